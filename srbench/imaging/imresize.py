"""MATLAB-compatible ``imresize(..., 'bicubic')`` in float64 numpy.

Follows MATLAB's documented algorithm: cubic kernel with a = -0.5, kernel widened by 1/scale when
downscaling (antialiasing), symmetric boundary padding, per-row weight normalisation, output size
ceil(scale * size), and one pass per dimension (dimension 1, the height, first). On uint8 input MATLAB
rounds to uint8 after each pass; :func:`imresize` does the same, while float input stays float.
PIL, OpenCV and torch bicubic are not MATLAB-compatible (up to 15 grey levels off at borders).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

# Bumped whenever a change could alter any output value: LR caches are keyed by it.
IMRESIZE_VERSION = "1"


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def contributions(in_length: int, out_length: int, scale: float, antialias: bool = True):
    """MATLAB's ``contributions``: (weights[out, P], zero-based source indices[out, P])."""
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel = lambda x: scale * _cubic(scale * x)  # noqa: E731
        kernel_width = kernel_width / scale
    else:
        kernel = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: index i (1-based) outside [1, n] mirrors, edge sample repeated.
    aux = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx = aux[np.mod(indices.astype(np.int64) - 1, aux.size)]
    keep = np.any(weights != 0, axis=0)
    weights, idx = weights[:, keep], idx[:, keep]
    weights.setflags(write=False)
    idx.setflags(write=False)
    return weights, idx


def _resize_axis(img: np.ndarray, axis: int, out_length: int, scale: float, antialias: bool) -> np.ndarray:
    weights, idx = contributions(img.shape[axis], out_length, scale, antialias)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    for k in range(weights.shape[1]):
        out += weights[:, k][extra] * moved[idx[:, k]]
    return np.moveaxis(out, 0, axis)


def round_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's double -> uint8 conversion: saturate, then round half away from zero."""
    return np.floor(np.clip(x, 0, 255) + 0.5).astype(np.uint8)


def _parse_scale(scale) -> tuple[float, Fraction | None]:
    if isinstance(scale, Fraction):
        return float(scale), scale
    if isinstance(scale, int):
        return float(scale), Fraction(scale)
    frac = Fraction(scale).limit_denominator(64)
    return float(scale), (frac if abs(float(frac) - scale) < 1e-12 else None)


def output_size(in_length: int, scale) -> int:
    """ceil(in_length * scale), computed exactly for rational scales such as 1/3."""
    s, frac = _parse_scale(scale)
    if frac is not None:
        return -((-in_length * frac.numerator) // frac.denominator)
    return int(math.ceil(in_length * s))


def imresize(img: np.ndarray, scale, antialias: bool = True) -> np.ndarray:
    """Resize an HxW or HxWxC image by ``scale`` like MATLAB ``imresize(img, scale, 'bicubic')``.

    ``scale`` may be an int, a float or a :class:`fractions.Fraction` (``Fraction(1, 3)`` for 1/3).
    uint8 input returns uint8 (rounded after each pass, like MATLAB); float input returns float64.
    """
    s, _ = _parse_scale(scale)
    if s <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    is_uint8 = img.dtype == np.uint8
    out = img.astype(np.float64)
    # MATLAB sorts dimensions by scale (stable): equal scales -> height first, then width.
    for axis in (0, 1):
        out = _resize_axis(out, axis, output_size(img.shape[axis], scale), s, antialias)
        if is_uint8:
            out = round_uint8(out)
    return out if not is_uint8 else out.astype(np.uint8)


def downscale(img: np.ndarray, factor: int) -> np.ndarray:
    """``imresize(img, 1/factor)``: the SR literature's bicubic LR."""
    return imresize(img, Fraction(1, factor))
