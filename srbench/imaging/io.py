"""Image reading/writing with one-line errors; modcrop.

Images are evaluated as 8-bit: a 16-bit or float image is refused (never silently cut to 8 bits);
an alpha channel is dropped and the drop reported (``Decoded.alpha_dropped``, recorded per image).
"""

from __future__ import annotations

import io as _io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from srbench.errors import SrbenchError
from srbench.store.files import write_bytes

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".ppm", ".pgm")
_GREY_MODES = ("L", "1", "LA", "La")
_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray  # uint8, HxWx3 RGB or HxW for a single-channel image
    gray: bool
    alpha_dropped: bool


def _high_bit_depth(im: Image.Image) -> bool:
    if im.mode in _HIGH_DEPTH_MODES:
        return True
    # 16-bit RGB(A) PNG/TIFF open as 8-bit "RGB"; the decoder's raw mode says ";16".
    return any(";16" in repr(getattr(t, "args", t)) for t in (im.tile or ()))


def decode_image(path: str | Path) -> Decoded:
    """Read an image as uint8 (see the module docstring for the 8-bit rule)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if _high_bit_depth(im):
                    raise SrbenchError(
                        f"{path}: {im.mode} image with more than 8 bits per channel; srbench evaluates 8-bit "
                        "images (the SR benchmarks are 8-bit): save it as an 8-bit PNG"
                    )
                im.load()
                has_alpha = im.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in im.info
                if im.mode in _GREY_MODES:
                    return Decoded(np.asarray(im.convert("L"), dtype=np.uint8).copy(), True, has_alpha)
                return Decoded(np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), False, has_alpha)
    except FileNotFoundError:
        raise SrbenchError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SrbenchError(f"{path}: image too large to decode safely ({exc}); crop or downscale it") from None
    except MemoryError:
        raise SrbenchError(f"{path}: not enough memory to decode this image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SrbenchError(f"{path}: cannot read image ({exc}); replace or remove the file (a benchmark set's own files: srbench fetch --dataset NAME)") from None


def read_image(path: str | Path) -> tuple[np.ndarray, bool]:
    """(uint8 HxWx3 RGB, False) or (uint8 HxW, True) for a single-channel image."""
    d = decode_image(path)
    return d.pixels, d.gray


def to_rgb(img: np.ndarray) -> np.ndarray:
    """Replicate a single-channel image to 3 channels (what an RGB model is fed for a grey image)."""
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def check_uint8_image(img, what: str) -> np.ndarray:
    """``img`` as a uint8 HxW or HxWx3 array, or a one-line error."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise SrbenchError(f"{what} must be uint8, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise SrbenchError(f"{what} must be HxWx3 (or HxW), got shape {img.shape}")
    return img


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop to a multiple of ``scale`` (top-left anchored), like MATLAB's modcrop."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def encode_png(img: np.ndarray) -> bytes:
    buf = _io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def write_png(img: np.ndarray, path: str | Path) -> None:
    """Write a uint8 image atomically (mode from the umask)."""
    write_bytes(path, encode_png(img))


def read_mat(path, what: str) -> dict:
    """``scipy.io.loadmat`` with a one-line error for damaged or foreign files."""
    import zlib

    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        return scipy.io.loadmat(str(path))
    # What scipy raises for truncated or damaged files (compressed variables: zlib.error).
    except (OSError, ValueError, TypeError, EOFError, IndexError, KeyError, NotImplementedError, zlib.error,
            MatReadError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrbenchError(f"{what}: {path} is not a readable MATLAB .mat file ({first}); "
                           "delete it and fetch it again") from None
