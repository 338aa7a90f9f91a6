"""NIQE's fast helpers against the straightforward computations they replace (bit for bit)."""

import numpy as np
from scipy.ndimage import correlate1d

from srbench.metrics import niqe as srb_niqe


def test_nearest_grid_point_equals_argmin_over_the_grid():
    grid = srb_niqe._R_GAM
    rng = np.random.default_rng(0)
    mids = (grid[:-1] + grid[1:]) / 2
    r = np.concatenate([
        rng.uniform(grid[0] - 0.05, grid[-1] + 0.05, 5000),  # inside and beyond both ends
        grid[rng.integers(0, grid.size, 200)],  # exactly on grid points
        mids[rng.integers(0, mids.size, 200)],  # (rounded) midpoints: near-ties
        np.nextafter(mids[:100], 0), np.nextafter(mids[:100], 1),
        [np.nan, np.inf, -np.inf, 0.0, -1.0, 2.0],
    ])
    with np.errstate(invalid="ignore"):
        expected = np.argmin((grid[None, :] - r[:, None]) ** 2, axis=1)  # estimateaggdparam's min
    expected[~np.isfinite(r)] = 0  # MATLAB's min of an all-NaN vector: the first index
    np.testing.assert_array_equal(srb_niqe._nearest_grid_point(r), expected)


def test_mscn_equals_the_formula():
    rng = np.random.default_rng(1)
    im = rng.integers(0, 256, (96, 150)).astype(np.float64)
    im[20:60, 30:90] = 117.0  # a flat area: MSCN is rounding noise there, so it must match exactly

    def blur(x):
        return correlate1d(correlate1d(x, srb_niqe._WINDOW, axis=0, mode="nearest"), srb_niqe._WINDOW, axis=1,
                           mode="nearest")

    mu = blur(im)
    expected = (im - mu) / (np.sqrt(np.abs(blur(im * im) - mu * mu)) + 1.0)
    np.testing.assert_array_equal(srb_niqe.mscn(im), expected)


def test_the_2d_order_of_the_conditioning_check_is_matlabs():
    rng = np.random.default_rng(1)
    im = rng.integers(0, 256, (20, 27)).astype(np.float64)
    im[4:15, 6:20] = 117.0  # a flat area: MSCN is rounding residues there, so it must match bit for bit

    # fspecial('gaussian', 7, 7/6) / sum(sum(.)), written out; imfilter 'replicate': each output pixel is
    # the sum of the 49 products, kernel taken column by column (MATLAB's column-major order)
    x, y = np.meshgrid(np.arange(-3.0, 4.0), np.arange(-3.0, 4.0))
    h = np.exp(-(x * x + y * y) / (2 * (7 / 6) * (7 / 6)))
    h = h / sum(h.T.ravel().tolist(), 0.0)
    h = h / sum([sum(col.tolist(), 0.0) for col in h.T], 0.0)
    assert np.array_equal(h, srb_niqe._WINDOW_2D)

    def blur(a):
        p = np.pad(a, 3, mode="edge")
        out = np.zeros_like(a)
        for r in range(a.shape[0]):
            for c in range(a.shape[1]):
                acc = 0.0
                for j in range(7):
                    for i in range(7):
                        acc += p[r + i, c + j] * h[i, j]
                out[r, c] = acc
        return out

    mu = blur(im)
    expected = (im - mu) / (np.sqrt(np.abs(blur(im * im) - mu * mu)) + 1.0)
    got = srb_niqe.mscn(im, srb_niqe._imfilter_2d)
    np.testing.assert_array_equal(got, expected)
    flat = got[7:12, 9:17]
    assert np.count_nonzero(flat) > 0 and np.abs(flat).max() < 1e-9  # residues, not exact zeros


def test_rgb2ycbcr_uint8_rounds_ties_in_matlab_order():
    from srbench.imaging.color import rgb_to_y_uint8
    from srbench.imaging.imresize import round_uint8

    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (300, 300, 3)).astype(np.uint8)
    x = rgb.astype(np.float64)
    t = [65.481 / 255, 128.553 / 255, 24.966 / 255]
    matlab = np.floor(((t[0] * x[..., 0] + t[1] * x[..., 1]) + t[2] * x[..., 2]) + 16.0 + 0.5)
    np.testing.assert_array_equal(rgb_to_y_uint8(rgb), matlab)
    # the other formula order rounds some ties the other way
    other = round_uint8(16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0)
    assert 0 < np.count_nonzero(other != rgb_to_y_uint8(rgb)) < 0.01 * other.size
