"""Colour conversions with MATLAB's BT.601 ``rgb2ycbcr`` coefficients (studio range, Y in [16, 235]).

The SR literature's "Y-PSNR" uses this Y, not YIQ luma (1.32 dB lower) nor OpenCV's YCrCb.
All arithmetic is float64 on values in [0, 255].
"""

from __future__ import annotations

import numpy as np

from srbench.imaging.imresize import round_uint8

# MATLAB rgb2ycbcr: ycbcr = offset + M @ rgb / 255, rgb in [0, 255].
YCBCR_FROM_RGB = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64
)
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
RGB_FROM_YCBCR = np.linalg.inv(YCBCR_FROM_RGB)
# ITU-R BT.601 full-range luma, used to bring an RGB output of a grey input back to one channel.
LUMA_601 = np.array([0.299, 0.587, 0.114])
# MATLAB rgb2gray: the first row of inv(NTSC YIQ matrix), what the NIQE release sees.
MATLAB_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def rgb_to_y(rgb: np.ndarray, rounded: bool = False) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr`` for an HxWx3 image in [0, 255]; ``rounded`` = the uint8 path."""
    x = rgb.astype(np.float64)
    y = 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0
    return round_uint8(y).astype(np.float64) if rounded else y


def rgb_to_y_uint8(rgb: np.ndarray) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr`` on a uint8 image, uint8, in MATLAB's formula order.

    For uint8 input MATLAB scales the coefficients first (T / 255) and evaluates
    ``imlincomb(T(1,1), R, T(1,2), G, T(1,3), B, 16)`` left to right in double before rounding; Y values
    that fall on k + 0.5 round as that order gives, not as ``16 + (65.481 R + ...) / 255`` does.
    """
    x = rgb.astype(np.float64)
    t = YCBCR_FROM_RGB[0] / 255.0
    y = t[0] * x[..., 0]
    y += t[1] * x[..., 1]
    y += t[2] * x[..., 2]
    y += 16.0
    return round_uint8(y)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full MATLAB ``rgb2ycbcr(im2double(.)) * 255`` in float64 (no rounding)."""
    return rgb.astype(np.float64) @ (YCBCR_FROM_RGB.T / 255.0) + YCBCR_OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`, float64 in [0, 255] (not clipped)."""
    return (ycbcr.astype(np.float64) - YCBCR_OFFSET) @ (RGB_FROM_YCBCR.T * 255.0)


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of an HxWx3 image in [0, 255], float64 (round it for the uint8 result)."""
    return rgb.astype(np.float64) @ MATLAB_GRAY


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """One full-range channel of an RGB image (exactly the channel value when R = G = B)."""
    x = rgb.astype(np.float64)
    if x.ndim == 2:
        return x
    return x @ LUMA_601
