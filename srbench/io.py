"""Image reading/writing with one-line errors; modcrop."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import SrbenchError

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".ppm", ".pgm")


def read_image(path: str | Path) -> tuple[np.ndarray, bool]:
    """Read an image as uint8: (HxWx3 RGB, False) or (HxW, True) for a single-channel image."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("L", "1", "I;16", "I", "F", "LA"):
                if im.mode in ("I;16", "I", "F"):
                    raise SrbenchError(f"{path}: {im.mode} images (16-bit/float) are not supported; save it as 8-bit PNG")
                return np.asarray(im.convert("L"), dtype=np.uint8).copy(), True
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), False
    except FileNotFoundError:
        raise SrbenchError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SrbenchError(f"{path}: cannot read image ({exc}); replace the file (srbench fetch re-downloads datasets)") from None


def to_rgb(img: np.ndarray) -> np.ndarray:
    """Replicate a single-channel image to 3 channels (what an RGB model is fed for a grey image)."""
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def check_rgb_uint8(img: np.ndarray, what: str) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise SrbenchError(f"{what} must be uint8, got {img.dtype}")
    if img.ndim == 2:
        return to_rgb(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise SrbenchError(f"{what} must be HxWx3 (or HxW), got shape {img.shape}")
    return img


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop to a multiple of ``scale`` (top-left anchored), like MATLAB's modcrop."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def write_png(img: np.ndarray, path: str | Path) -> None:
    """Write a uint8 image atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(fd)
    try:
        Image.fromarray(img).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
