"""srbench's imresize against real MATLAB output (../shared/matlab_imresize, TPSR's shipped LR)."""

from fractions import Fraction

import numpy as np
import pytest

from srbench.imaging.imresize import imresize, output_size, round_uint8
from srbench.imaging.io import modcrop, read_image


@pytest.mark.parametrize("name, scale", [
    ("down_x2", Fraction(1, 2)), ("down_x3", Fraction(1, 3)), ("down_x4", Fraction(1, 4)), ("up_x2", 2), ("up_x3", 3),
])
def test_matches_matlab_float_path(shared, name, scale):
    # MATLAB: imwrite(imresize(im2double(baboon), S, 'bicubic')) -> round(clip(x, 0, 1) * 255)
    d = shared / "matlab_imresize"
    src, _ = read_image(d / "baboon.png")
    ref, _ = read_image(d / f"baboon_{name}_matlab.png")
    out = round_uint8(imresize(src.astype(np.float64) / 255.0, scale) * 255.0)
    assert out.shape == ref.shape
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff.max() <= 1
    assert (diff > 0).mean() <= 1e-4  # at most 1 grey level on at most 0.01% of pixels


@pytest.mark.parametrize("name", ["baby", "bird", "butterfly", "head", "woman"])
def test_uint8_path_matches_matlab_lr_shipped_by_tpsr(shared, name):
    # royson/tpsr ships MATLAB imresize(HR_uint8, 1/4) LR: MATLAB rounds to uint8 between the two passes.
    d = shared / "calibration" / "tpsr_official" / "Set5_x4"
    hr, _ = read_image(d / "HR" / f"{name}.png")
    lr, _ = read_image(d / "LR" / f"{name}.png")
    ours = imresize(modcrop(hr, 4), Fraction(1, 4))
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, lr)
    # Resizing in double without the intermediate rounding does not reproduce it.
    double = round_uint8(imresize(modcrop(hr, 4).astype(np.float64), Fraction(1, 4)))
    assert not np.array_equal(double, lr)


def test_output_size_is_ceil_of_exact_product():
    assert output_size(492, Fraction(1, 3)) == 164
    assert output_size(361, Fraction(1, 2)) == 181
    assert output_size(100, 3) == 300
    assert imresize(np.zeros((361, 250), np.uint8), Fraction(1, 2)).shape == (181, 125)


def test_constant_image_stays_constant():
    # Per-row weight normalisation: a flat image must stay exactly flat, borders included.
    img = np.full((37, 41, 3), 123.0)
    for s in (Fraction(1, 4), Fraction(1, 3), 2, 3):
        np.testing.assert_allclose(imresize(img, s), 123.0, atol=1e-10)
