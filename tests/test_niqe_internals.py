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
