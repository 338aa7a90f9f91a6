"""PSNR/SSIM against scikit-image (Wang settings) and the known Y-definition pitfalls."""

from fractions import Fraction

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench.color import rgb_to_y
from srbench.imresize import imresize
from srbench.io import modcrop, read_image
from srbench.metrics import METRICS, compute


@pytest.fixture(scope="module")
def bicubic_pair(shared):
    hr, _ = read_image(shared / "datasets" / "Set14" / "HR" / "zebra.png")
    hr = modcrop(hr, 4)
    sr = imresize(imresize(hr, Fraction(1, 4)), 4)
    return sr, hr


def _y_shaved(img, s):
    return rgb_to_y(img)[s:-s, s:-s]


def test_psnr_equals_skimage(bicubic_pair):
    sr, hr = bicubic_pair
    ref = peak_signal_noise_ratio(_y_shaved(hr, 4), _y_shaved(sr, 4), data_range=255)
    assert compute("psnr", sr, hr, scale=4) == pytest.approx(ref, abs=1e-6)


def test_ssim_equals_skimage_wang_settings(bicubic_pair):
    sr, hr = bicubic_pair
    ref = structural_similarity(_y_shaved(hr, 4), _y_shaved(sr, 4), gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=255)
    assert compute("ssim", sr, hr, scale=4) == pytest.approx(ref, abs=1e-6)


def test_psnr_rgb_equals_skimage(bicubic_pair):
    sr, hr = bicubic_pair
    ref = peak_signal_noise_ratio(hr[4:-4, 4:-4], sr[4:-4, 4:-4], data_range=255)
    assert compute("psnr_rgb", sr, hr, scale=4) == pytest.approx(ref, abs=1e-6)


def test_bt601_y_is_not_yiq_luma(bicubic_pair):
    # The studio-range Y scales differences by 219/255: YIQ luma PSNR is 20 log10(255/219) = 1.32 dB lower.
    sr, hr = bicubic_pair
    luma = lambda x: (x.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))[4:-4, 4:-4]  # noqa: E731
    yiq = peak_signal_noise_ratio(luma(hr), luma(sr), data_range=255)
    assert compute("psnr", sr, hr, scale=4) - yiq == pytest.approx(20 * np.log10(255 / 219), abs=0.01)


def test_protocol_rounding_of_y_changes_psnr(bicubic_pair):
    sr, hr = bicubic_pair
    float_y = compute("psnr", sr, hr, scale=4, protocol="matlab")
    rounded_y = compute("psnr", sr, hr, scale=4, protocol="vdsr")
    ref = peak_signal_noise_ratio(np.round(_y_shaved(hr, 4)), np.round(_y_shaved(sr, 4)), data_range=255)
    assert rounded_y == pytest.approx(ref, abs=1e-6)
    assert rounded_y != pytest.approx(float_y, abs=1e-4)


def test_registry_carries_orientation():
    assert METRICS.get("psnr").higher_is_better and METRICS.get("ssim").higher_is_better
    assert not METRICS.get("lpips").higher_is_better and not METRICS.get("niqe").higher_is_better
    assert METRICS.get("ma").higher_is_better and not METRICS.get("pi").higher_is_better


def test_identical_images_give_infinite_psnr_and_unit_ssim(bicubic_pair):
    _, hr = bicubic_pair
    assert compute("psnr", hr, hr, scale=2) == float("inf")
    assert compute("ssim", hr, hr, scale=2) == pytest.approx(1.0, abs=1e-12)
