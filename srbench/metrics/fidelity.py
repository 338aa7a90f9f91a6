"""PSNR and SSIM on the protocol's Y (float64, border shaved), and RGB PSNR."""

from __future__ import annotations

import numpy as np
from scipy.signal import sepfir2d

from ..errors import SrbenchError
from . import Metric


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


def _filter_valid(x: np.ndarray) -> np.ndarray:
    """Separable 11x11 Gaussian filtering, 'valid' region only (the boundary mode never matters)."""
    r = _WINDOW.size // 2
    return sepfir2d(x, _WINDOW, _WINDOW)[r:-r, r:-r]


def _ssim_sum(x: np.ndarray, y: np.ndarray, c1: float, c2: float) -> float:
    """Sum of the SSIM map over the valid region of x, y (float64, same shape)."""
    mx, my = _filter_valid(x), _filter_valid(y)
    e_sq = _filter_valid(x * x + y * y)
    e_xy = _filter_valid(x * y)
    mxy = mx * my
    m_sq = np.multiply(mx, mx, out=mx)
    m_sq += my * my
    num = np.multiply(mxy, 2.0)
    num += c1
    e_xy -= mxy
    e_xy *= 2.0
    e_xy += c2
    num *= e_xy
    e_sq -= m_sq
    e_sq += c2
    m_sq += c1
    m_sq *= e_sq
    num /= m_sq
    return float(num.sum())


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0, rows: int = 64) -> float:
    """SSIM of Wang et al. (2004): Gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, valid, mean of the map.

    Only four maps are filtered: the variances enter the formula as a sum, so E[x^2 + y^2] is
    filtered once instead of E[x^2] and E[y^2] separately. The image is processed in bands of
    `rows` output rows (plus the window's 10-row overlap) so the maps stay in cache: 2x faster
    than filtering whole images, with the same sum.
    """
    if a.shape != b.shape:
        raise SrbenchError(f"SR and HR sizes differ: {a.shape} vs {b.shape}")
    if min(a.shape) < _WINDOW.size:
        raise SrbenchError(f"image of size {a.shape[1]}x{a.shape[0]} is smaller than the 11x11 SSIM window")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    pad = _WINDOW.size - 1
    h = x.shape[0] - pad  # valid output rows
    total = 0.0
    r0 = 0
    while r0 < h:
        # a short last band is merged into this one
        r1 = h if h - r0 < rows + rows // 2 else r0 + rows
        total += _ssim_sum(x[r0:r1 + pad], y[r0:r1 + pad], c1, c2)
        r0 = r1
    return total / (h * (x.shape[1] - pad))


class PSNR(Metric):
    """PSNR on the pair the spec names: the protocol's shaved Y (``psnr``) or RGB (``psnr_rgb``)."""

    def __init__(self, device: str = "cpu"):
        pass

    def __call__(self, pair) -> float:
        sr, hr = pair[self.spec.input]
        return psnr(sr, hr)


class SSIM(Metric):
    def __init__(self, device: str = "cpu"):
        pass

    def __call__(self, pair) -> float:
        sr, hr = pair.y
        return ssim(sr, hr)
