"""PSNR and SSIM on the protocol's Y (float64, border shaved), and RGB PSNR."""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dgemm

from srbench.errors import SrbenchError
from srbench.metrics.registry import register
from srbench.metrics.spec import Metric, MetricSpec


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two same-size float arrays on a [0, peak] scale (inf when identical)."""
    if a.shape != b.shape:
        raise SrbenchError(f"SR and HR sizes differ: {a.shape} vs {b.shape}")
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


_WINDOW = _gaussian_window()
_PAD = _WINDOW.size - 1  # rows/columns a valid filtering loses
_BAND = 16  # output rows per vertical GEMM
_TILE = 16  # output columns per horizontal GEMM tile (both sizes: fastest measured on one core)


def _vertical_matrix(n: int, offset: float | None = None) -> np.ndarray:
    """K with ``K @ rows`` = the 11-tap filter down the n + 10 ``rows``: n valid output rows.

    With ``offset``, K has one more column holding it, for a row of ones appended to ``rows``:
    the GEMM then also adds the constant.
    """
    k = np.zeros((n, n + _PAD + (offset is not None)))
    for i in range(n):
        k[i, i:i + _WINDOW.size] = _WINDOW
    if offset is not None:
        k[:, -1] = offset
    return k


def _horizontal_matrices(tile: int) -> tuple[np.ndarray, np.ndarray]:
    """The (tile + 10, tile) band matrix filtering a tile's columns, split into the rows applying
    to the tile itself (tile, tile) and to the first 10 columns of the next tile (10, tile)."""
    k = np.zeros((tile + _PAD, tile))
    for j in range(tile):
        k[j:j + _WINDOW.size, j] = _WINDOW
    return k[:tile].copy(), k[tile:].copy()


def _ssim_sum(x: np.ndarray, y: np.ndarray, c1: float, c2: float) -> float:
    """Sum of the SSIM map over the valid region of x, y (C-contiguous float64, same shape).

    Both filter passes are matrix products (BLAS), band by band of _BAND output rows so the
    working set stays in cache; numpy's element-wise passes, not the products, are the cost, so
    the formula is arranged to need few of them:
    - four maps are filtered, x, y, x^2 + y^2 and xy (the variances enter as a sum), and the
      constants are added by the vertical GEMM (a row of ones), giving
      mu_x, mu_y, S = E[x^2 + y^2] + c1 + c2 and P = E[xy] + (c1 + c2) / 2;
    - with t = mu_x mu_y + c1 / 2 and q = mu_x^2 + mu_y^2 + c1, the SSIM of Wang et al.
      (2 mu_x mu_y + c1)(2 cov + c2) / ((mu_x^2 + mu_y^2 + c1)(var_x + var_y + c2))
      is 4 t (P - t) / (q (S - q)).
    The horizontal pass treats each padded row as tiles of _TILE columns: output tile j is
    tile j times the tile's own weights plus the first 10 columns of tile j + 1 times the rest,
    two GEMMs over all tiles of all rows and maps at once (the last tile of a row is dropped).
    """
    h, w = x.shape
    out_h, out_w = h - _PAD, w - _PAD
    tiles = -(-out_w // _TILE) + 1
    width = tiles * _TILE  # >= w: each vertically filtered row, zero-padded
    own, nxt = _horizontal_matrices(_TILE)
    band = min(_BAND, out_h)
    vert = np.zeros((band, 4, width))
    horiz = np.zeros((band * 4 * tiles, _TILE))
    sq = np.empty((band + _PAD + 1, w))  # x^2 + y^2 of the band's input rows, then a row of ones
    xy = np.empty_like(sq)
    tmp = np.empty((band + _PAD, w))
    t, num, q, den = np.empty((4, band, out_w))
    matrices = {}
    total = 0.0
    for r0 in range(0, out_h, band):
        n = min(band, out_h - r0)
        if n not in matrices:
            matrices[n] = (_vertical_matrix(n), _vertical_matrix(n, c1 + c2), _vertical_matrix(n, (c1 + c2) / 2))
        k_mu, k_sq, k_xy = matrices[n]
        xs, ys = x[r0:r0 + n + _PAD], y[r0:r0 + n + _PAD]
        s, p, tm = sq[:n + _PAD + 1], xy[:n + _PAD + 1], tmp[:n + _PAD]
        np.multiply(xs, xs, out=s[:-1])
        np.multiply(ys, ys, out=tm)
        s[:-1] += tm
        np.multiply(xs, ys, out=p[:-1])
        s[-1] = 1.0
        p[-1] = 1.0
        v = vert[:n]
        np.matmul(k_mu, xs, out=v[:, 0, :w])
        np.matmul(k_mu, ys, out=v[:, 1, :w])
        np.matmul(k_sq, s, out=v[:, 2, :w])
        np.matmul(k_xy, p, out=v[:, 3, :w])
        rows = v.reshape(-1, _TILE)
        o = horiz[:rows.shape[0]]
        np.matmul(rows[1:, :_PAD], nxt, out=o[:-1])
        o[-1] = 0.0
        # o += rows @ own, accumulated in place by BLAS (the transposes are Fortran-order views)
        o = dgemm(1.0, own.T, rows.T, beta=1.0, c=o.T, overwrite_c=True).T
        maps = o.reshape(n, 4, width)[:, :, :out_w]
        mx, my, es, ep = maps[:, 0], maps[:, 1], maps[:, 2], maps[:, 3]
        tb, nb, qb, db = t[:n], num[:n], q[:n], den[:n]
        np.multiply(mx, my, out=tb)
        tb += c1 / 2
        np.subtract(ep, tb, out=nb)
        nb *= tb
        np.multiply(mx, mx, out=qb)
        np.multiply(my, my, out=db)
        qb += db
        qb += c1
        np.subtract(es, qb, out=db)
        db *= qb
        nb /= db
        total += float(nb.sum())
    return 4.0 * total


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """SSIM of Wang et al. (2004): Gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, valid, mean of the map.

    Equals scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255)`` to rounding (see :func:`_ssim_sum`).
    """
    if a.shape != b.shape:
        raise SrbenchError(f"SR and HR sizes differ: {a.shape} vs {b.shape}")
    if a.ndim == 3:  # channels (ntire-esr's RGB): the mean of the per-channel maps, all of one size
        return float(np.mean([ssim(a[..., c], b[..., c], data_range) for c in range(a.shape[2])]))
    if a.ndim != 2:
        raise SrbenchError(f"SSIM is computed on 2-D (Y) or HxWxC images; got an array of shape {a.shape}")
    if min(a.shape) < _WINDOW.size:
        raise SrbenchError(f"image of size {a.shape[1]}x{a.shape[0]} is smaller than the 11x11 SSIM window")
    x = np.ascontiguousarray(a, dtype=np.float64)
    y = np.ascontiguousarray(b, dtype=np.float64)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    return _ssim_sum(x, y, c1, c2) / ((x.shape[0] - _PAD) * (x.shape[1] - _PAD))


class PSNR(Metric):
    """PSNR on the pair the spec names: the protocol's shaved Y (``psnr``) or RGB (``psnr_rgb``)."""

    def __init__(self, device: str = "cpu"):
        pass

    def __call__(self, pair) -> float:
        sr, hr = pair[self.spec.input]
        return psnr(sr, hr)


def ssim_matlab(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """MATLAB's built-in ``ssim()`` (R2014a+): the same gaussian window, but the statistics come from
    ``imfilter(..., 'conv', 'replicate')``, so the SSIM map has the image's size (windows at the border
    see replicated pixels); the value is the mean of that map."""
    from scipy.ndimage import correlate1d

    if a.shape != b.shape:
        raise SrbenchError(f"SR and HR sizes differ: {a.shape} vs {b.shape}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)

    def blur(m):  # the window is symmetric: convolution = correlation
        return correlate1d(correlate1d(m, _WINDOW, axis=0, mode="nearest"), _WINDOW, axis=1, mode="nearest")

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    mxy, mx2, my2 = mx * my, mx * mx, my * my
    sx2, sy2, sxy = blur(x * x) - mx2, blur(y * y) - my2, blur(x * y) - mxy
    return float(np.mean(((2 * mxy + c1) * (2 * sxy + c2)) / ((mx2 + my2 + c1) * (sx2 + sy2 + c2))))


SSIM_VARIANTS = {"wang2004-valid": ssim, "matlab-ssim": ssim_matlab}


class SSIM(Metric):
    """SSIM on the protocol's shaved Y; ``variant`` names the window handling (see SSIM_VARIANTS)."""

    def __init__(self, device: str = "cpu", variant: str = "wang2004-valid"):
        if variant not in SSIM_VARIANTS:
            raise SrbenchError(f"unknown SSIM variant '{variant}'; use {' or '.join(SSIM_VARIANTS)}")
        self.fn = SSIM_VARIANTS[variant]

    def __call__(self, pair) -> float:
        sr, hr = pair.y
        return self.fn(sr, hr)


register(MetricSpec(
    "psnr", "PSNR", True, "y", (0.0, None), "dB",
    "Y-channel PSNR (the protocol's Y), border shaved, per image then mean",
    "srbench.metrics.fidelity:PSNR", ".2f", 0.01,
), aliases=("psnr_y",))

register(MetricSpec(
    "ssim", "SSIM", True, "y", (-1.0, 1.0), "",
    "Y-channel SSIM (Wang et al. 2004, gaussian 11x11 sigma 1.5; the protocol's variant), border shaved",
    "srbench.metrics.fidelity:SSIM", ".4f", 0.0005,
), aliases=("ssim_y",))

register(MetricSpec(
    "psnr_rgb", "PSNR-RGB", True, "rgb", (0.0, None), "dB",
    "PSNR over the three RGB channels, border shaved like Y-PSNR",
    "srbench.metrics.fidelity:PSNR", ".2f", 0.01,
))
