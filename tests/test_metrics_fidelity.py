"""PSNR/SSIM against scikit-image (Wang settings) and the known Y-definition pitfalls."""

from fractions import Fraction

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench.eval.compute import compute
from srbench.imaging.color import rgb_to_y
from srbench.imaging.imresize import imresize
from srbench.imaging.io import modcrop, read_image
from srbench.metrics.fidelity import ssim
from srbench.metrics.registry import METRICS


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


def _skimage_ssim(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)


# odd widths, narrow strips of height 11..20, one side exactly 11, band/tile edges (16 valid rows/columns)
SHAPES = [(11, 11), (11, 64), (64, 11), (12, 27), (13, 1001), (17, 26), (20, 333), (26, 43), (27, 200), (91, 77),
          (137, 250)]


@pytest.mark.parametrize("shape", SHAPES)
def test_ssim_equals_skimage_on_random_pairs(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    hr = rng.integers(0, 256, shape).astype(np.float64)
    noisy = np.clip(hr + rng.normal(0, 12, shape), 0, 255)
    unrelated = rng.uniform(0, 255, shape)
    for sr in (noisy, unrelated, np.round(noisy)):
        assert abs(ssim(sr, hr) - _skimage_ssim(hr, sr)) < 1e-9


def test_ssim_equals_skimage_on_real_pairs(shared):
    # a 1024x768 Urban100 image and a B100 image (481x321) with their bicubic x4 reconstructions,
    # whole and cut to odd widths, strips of height 11..20 and a side of exactly 11
    for path in (shared / "datasets" / "Urban100" / "HR" / "img_002.png",
                 shared / "datasets" / "B100" / "HR" / "101085.png"):
        hr, _ = read_image(path)
        hr = modcrop(hr, 4)
        sr = imresize(imresize(hr, Fraction(1, 4)), 4)
        y_hr, y_sr = rgb_to_y(hr), rgb_to_y(sr)
        h, w = y_hr.shape
        for rows, cols in ((slice(None), slice(None)), (slice(3, h - 4), slice(1, w - 2)), (slice(100, 111), slice(None)),
                           (slice(40, 60), slice(0, 301)), (slice(7, 24), slice(5, 16)), (slice(None), slice(200, 211))):
            ours = ssim(y_sr[rows, cols], y_hr[rows, cols])
            assert abs(ours - _skimage_ssim(y_hr[rows, cols], y_sr[rows, cols])) < 1e-9
            assert 0.3 < ours < 1.0


def test_ssim_rejects_images_smaller_than_the_window():
    from srbench.errors import SrbenchError

    with pytest.raises(SrbenchError, match="smaller than the 11x11"):
        ssim(np.zeros((10, 40)), np.zeros((10, 40)))
