"""The per-image pipeline, and the only reader of :class:`~srbench.protocol.protocols.Protocol` settings.

One image under a protocol (SPEC §1)::

    HR file -> uint8 (modcrop to the scale)           load()
            -> LR: the set's shipped LR or MATLAB imresize (uint8 or double; RGB or Y only)   make_lr()
            -> model, through its I/O convention -> SR float [0, 255]                         super_resolve()
            -> SR uint8 (round or truncate)
            -> Y (float or rounded; grey images as Y or as RGB), shaved; RGB shaved;
               LPIPS pair (its own shave); no-reference grey image (its luma and shave)     prepare()

Metrics receive the :class:`Prepared` pair and never see the protocol; :func:`metric_settings`
gives each metric the constructor settings the protocol fixes (e.g. the LPIPS network).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from srbench.errors import SrbenchError
from srbench.imaging.color import (
    gray_of,
    rgb_to_gray,
    rgb_to_y,
    rgb_to_y_uint8,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from srbench.imaging.imresize import IMRESIZE_VERSION, imresize, round_uint8
from srbench.imaging.io import (
    check_uint8_image,
    decode_image,
    encode_png,
    modcrop,
    to_rgb,
)
from srbench.protocol.protocols import Protocol

log = logging.getLogger(__name__)

# Model I/O conventions (see IOConvention)
COLOURS = ("rgb", "y")
RANGES = (1, 255)


@dataclass(frozen=True)
class IOConvention:
    """How a model exchanges images with srbench.

    ``colour``: RGB, or Y only (MATLAB Y; the chroma of an RGB protocol is bicubic-upscaled).
    ``value_range``: 1 = floats in [0, 1] in and out (every zoo module), 255 = [0, 255].
    ``same_size``: the output has the input's size (real-world SR such as IMDN-AS).
    ``array``: a callable on HxWxC numpy arrays (uint8 LR; float64 under protocols that keep the LR
    in double) instead of a torch module on N x C x H x W tensors.
    """

    colour: str = "rgb"
    value_range: int = 1
    same_size: bool = False
    array: bool = False

    def __post_init__(self):
        if self.colour not in COLOURS:
            raise SrbenchError(f"I/O convention: colour must be 'rgb' or 'y', got {self.colour!r}")
        if self.value_range not in RANGES:
            raise SrbenchError(f"I/O convention: value_range must be 1 or 255, got {self.value_range!r}")

    def to_dict(self) -> dict:
        return {"colour": self.colour, "value_range": self.value_range, "same_size": self.same_size,
                "array": self.array}


@dataclass(frozen=True)
class Loaded:
    """One HR image as the protocol sees it before the model."""

    name: str  # file name in the set
    hr: np.ndarray  # uint8, modcropped; HxW for a grey image
    gray: bool
    alpha_dropped: bool


@dataclass(frozen=True)
class Prepared:
    """What metrics see: each input the requested metrics need, already shaved.

    ``y``: (SR Y, HR Y) float64 on the protocol's Y (its RGB channels when ``fidelity = "rgb"``); ``rgb``: (SR, HR) uint8 RGB, shaved like Y;
    ``lpips``: (SR, HR) uint8 RGB with the LPIPS shave; ``nr``: the SR's no-reference grey image
    (float64 integer levels). A pair without HR has only ``nr``.
    """

    name: str
    y: tuple | None = None
    rgb: tuple | None = None
    lpips: tuple | None = None
    nr: np.ndarray | None = None

    def __getitem__(self, key: str):
        value = getattr(self, key)
        if value is None:
            raise SrbenchError(f"{self.name}: no '{key}' input was prepared for this metric")
        return value


# ---------------------------------------------------------------------------------------------
# compatibility and metric settings


def check_compatible(protocol: Protocol, io: IOConvention, specs, label: str, model: bool = True) -> None:
    """Model/protocol/metric compatibility, checked once per plan (``model``: False for SR files)."""
    if protocol.space == "y":
        if model and io.colour != "y":
            raise SrbenchError(
                f"protocol '{protocol.name}' is Y-only (the FSRCNN test code); model '{label}' is an RGB model: "
                "use --protocol matlab"
            )
        rgb_only = [s.name for s in specs if s.input not in available_inputs(protocol)]
        if rgb_only:
            raise SrbenchError(f"protocol '{protocol.name}' is Y-only; {', '.join(rgb_only)} need RGB output")


def available_inputs(protocol: Protocol) -> set:
    """The metric inputs this protocol can prepare (a Y-only protocol has no RGB images)."""
    return {"y", "nr"} if protocol.space == "y" else {"y", "rgb", "lpips", "nr"}


# Constructor settings of a metric that the protocol fixes: metric -> {setting: protocol field}. Metrics
# never read the protocol: the pipeline hands them these values (lpips_alex/lpips_vgg fix their own net).
PROTOCOL_METRIC_SETTINGS = {
    "ssim": {"variant": "ssim"},
    "lpips": {"net": "lpips_net", "version": "lpips_version"},
}


def metric_settings(protocol: Protocol, spec) -> dict:
    """Constructor settings the protocol fixes for this metric."""
    return {setting: getattr(protocol, field) for setting, field in PROTOCOL_METRIC_SETTINGS.get(spec.name, {}).items()}


def input_description(protocol: Protocol, spec, scale: int) -> str:
    """The input a metric sees under this protocol, in words (recorded in results)."""
    if spec.input == "y" and protocol.fidelity == "rgb":
        return f"RGB as float64 (grey images {protocol.gray}), shave {shave_for(protocol.shave, scale)}"
    if spec.input == "y":
        return (f"Y ({'rounded' if protocol.y_rounding else 'float'}; grey images {protocol.gray}), "
                f"shave {shave_for(protocol.shave, scale)}")
    if spec.input == "rgb":
        return f"RGB uint8, shave {shave_for(protocol.shave, scale)}"
    if spec.input == "lpips":
        return f"RGB uint8 / 127.5 - 1, shave {shave_for(protocol.lpips_shave, scale)}"
    return f"{'Y of rgb2ycbcr' if protocol.nr_luma == 'y' else 'rgb2gray'} of the SR (uint8), shave {protocol.nr_shave}"


def uses_shipped_lr(protocol: Protocol) -> bool:
    return protocol.lr_source == "dataset-or-generated"


def check_scale(scale) -> int:
    """A scale is a positive integer (2, 3, 4, ...): 0, negative or fractional scales are refused."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise SrbenchError(f"scale must be a positive integer such as 2, 3 or 4, got {scale!r}")
    return int(scale)


def shave_for(shave, scale: int | None) -> int:
    if shave == "scale":
        if scale is None:
            raise SrbenchError("this protocol shaves the border by the scale: pass scale=")
        return check_scale(scale)
    return int(shave)


def _shave(img: np.ndarray, border: int, name: str) -> np.ndarray:
    if border <= 0:
        return img
    if img.shape[0] <= 2 * border or img.shape[1] <= 2 * border:
        raise SrbenchError(f"{name}: image of size {img.shape[1]}x{img.shape[0]} is too small to shave {border} px")
    return img[border:-border, border:-border]


# ---------------------------------------------------------------------------------------------
# HR and LR


def load(protocol: Protocol, sample, scale: int, same_size: bool = False) -> Loaded:
    """Read the HR and crop it: to a multiple of the scale, or of 4 for same-size models (IMDN-AS)."""
    d = decode_image(sample.hr_path)
    raw = d.pixels
    hr = modcrop(raw, 4 if same_size else scale)
    if min(hr.shape[:2]) < scale * 4:
        raise SrbenchError(f"{sample.hr_path}: image {raw.shape[1]}x{raw.shape[0]} is too small for x{scale}")
    return Loaded(sample.hr_path.name, hr, d.gray, d.alpha_dropped)


def make_lr(protocol: Protocol, loaded: Loaded, sample, scale: int, same_size: bool = False,
            cache_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """(LR, where it came from: shipped | generated | cached | hr).

    The LR is uint8 HxWx3 (MATLAB imresize on uint8, or the set's shipped LR), float64 HxWx3 in
    [0, 255] (``lr_resize = "double"``) or float64 HxW, the Y of a Y-only protocol.
    """
    if protocol.space == "y":
        return imresize(hr_luma(protocol, loaded.hr, loaded.gray), Fraction(1, scale)), "generated"
    hr_rgb = to_rgb(loaded.hr)
    if same_size:
        return hr_rgb, "hr"  # same-size models (RealSR) restore the image itself
    if protocol.lr_resize == "double":
        return imresize(hr_rgb.astype(np.float64), Fraction(1, scale)), "generated"
    shipped = sample.lr_paths.get(scale) if uses_shipped_lr(protocol) else None
    if shipped is not None:
        lr = to_rgb(decode_image(shipped).pixels)
        if lr.shape[0] * scale != hr_rgb.shape[0] or lr.shape[1] * scale != hr_rgb.shape[1]:
            raise SrbenchError(
                f"{shipped}: LR is {lr.shape[1]}x{lr.shape[0]} but the HR {loaded.name} modcropped to x{scale} is "
                f"{hr_rgb.shape[1]}x{hr_rgb.shape[0]} (expected LR {hr_rgb.shape[1] // scale}x{hr_rgb.shape[0] // scale}); "
                "remove the LR folder to let srbench generate MATLAB-bicubic LR"
            )
        return lr, "shipped"
    return _generated_uint8_lr(hr_rgb, scale, cache_dir)


def _generated_uint8_lr(hr_rgb: np.ndarray, scale: int, cache_dir: Path | None) -> tuple[np.ndarray, str]:
    """MATLAB imresize of the uint8 HR (rounded between passes), from the LR cache when it has a
    verified entry for this HR content, scale and imresize version."""
    digest = hashlib.sha256(hr_rgb.tobytes() + repr(hr_rgb.shape).encode()).hexdigest()
    if cache_dir is not None:
        cached = _read_lr_cache(cache_dir, digest, scale, hr_rgb.shape)
        if cached is not None:
            return cached, "cached"
    lr = _imresize_memo(digest, scale, hr_rgb)
    if cache_dir is not None:
        _write_lr_cache(cache_dir, digest, scale, lr)
    return lr, "generated"


# Generated LR kept in memory for the next evaluation of the same image (a NAS loop evaluates many
# models on one set): keyed by HR content and scale, bounded in bytes.
_LR_MEMO: OrderedDict = OrderedDict()
_LR_MEMO_BYTES = 256 << 20


def _imresize_memo(digest: str, scale: int, hr_rgb: np.ndarray) -> np.ndarray:
    key = (digest, scale)
    if key in _LR_MEMO:
        _LR_MEMO.move_to_end(key)
        return _LR_MEMO[key]
    lr = imresize(hr_rgb, Fraction(1, scale))
    lr.setflags(write=False)
    _LR_MEMO[key] = lr
    while sum(a.nbytes for a in _LR_MEMO.values()) > _LR_MEMO_BYTES and len(_LR_MEMO) > 1:
        _LR_MEMO.popitem(last=False)
    return lr


def _lr_cache_files(cache_dir: Path, digest: str, scale: int) -> tuple[Path, Path]:
    stem = f"{digest[:32]}_x{scale}_imresize{IMRESIZE_VERSION}"
    return cache_dir / f"{stem}.png", cache_dir / f"{stem}.json"


def _read_lr_cache(cache_dir: Path, digest: str, scale: int, hr_shape) -> np.ndarray | None:
    import json

    png, meta = _lr_cache_files(cache_dir, digest, scale)
    try:
        info = json.loads(meta.read_text())
        data = png.read_bytes()
    except (OSError, ValueError):
        return None
    if info.get("hr_sha256") != digest or info.get("png_sha256") != hashlib.sha256(data).hexdigest():
        log.warning("LR cache entry %s does not verify; regenerating it", png.name)
        return None
    try:
        lr = decode_image(png).pixels
    except SrbenchError:
        return None
    if lr.shape != (hr_shape[0] // scale, hr_shape[1] // scale, 3):
        return None
    return lr


def _write_lr_cache(cache_dir: Path, digest: str, scale: int, lr: np.ndarray) -> None:
    import json

    from srbench.store.files import write_bytes, write_text

    png, meta = _lr_cache_files(cache_dir, digest, scale)
    data = encode_png(lr)
    try:
        write_bytes(png, data)
        write_text(meta, json.dumps({"hr_sha256": digest, "scale": scale, "imresize": IMRESIZE_VERSION,
                                     "png_sha256": hashlib.sha256(data).hexdigest()}))
    except SrbenchError as exc:  # a cache that cannot be written costs time, not results
        log.warning("LR cache not written: %s", exc)


# ---------------------------------------------------------------------------------------------
# model and SR


def super_resolve(protocol: Protocol, io: IOConvention, runner, lr: np.ndarray, scale: int,
                  name: str, gray: bool = False) -> tuple[np.ndarray, float]:
    """(SR uint8: HxWx3, or HxW Y under a Y-only protocol; forward seconds).

    ``runner(x, out_scale)`` maps an HxWxC float64 array in the model's input units (uint8 or
    float64 [0, 255] arrays for array callables) to (its output on the [0, 255] scale, forward
    seconds); see :mod:`srbench.sources`.
    """
    out_scale = 1 if io.same_size else scale
    y255, dt = _run_checked(runner, model_input(protocol, io, lr, gray), out_scale, name, io)
    if protocol.space == "y":
        return _quantize(y255[..., 0], protocol.sr_rounding), dt
    if io.colour == "rgb":
        sr255 = y255
    elif gray and protocol.gray == "as-y":  # a grey image is its own Y: the Y model saw the grey channel
        sr255 = np.repeat(y255, 3, axis=2)
    else:  # a Y model under an RGB protocol: the Y through the model, the chroma bicubic
        chroma = imresize(rgb_to_ycbcr(lr)[..., 1:], out_scale)
        sr255 = ycbcr_to_rgb(np.concatenate([y255, chroma], axis=2))
    return _quantize(sr255, protocol.sr_rounding), dt


# How far a model's output may leave its declared range before it is an error rather than overshoot
# for the protocol's clamp to remove: one whole range on either side ([-1, 2] for value_range 1).
# Trained networks overshoot at edges and in hallucinated texture (the zoo on Set5: up to [-0.47, 1.59]
# for TPSR-ESRGAN, see docs/hostile_inputs.md); a wrong convention is off by far more: value_range 255
# run as 1 is a factor 255, outputs like -300 or 1020 on the 0-255 scale are off by more than a range.
RANGE_TOLERANCE = 1.0


def _run_checked(runner, x, out_scale: int, name: str, io: IOConvention) -> tuple[np.ndarray, float]:
    """``runner(x, out_scale)`` with its failures as one line naming the model and image, and its output
    checked: finite, and within the declared range (up to :data:`RANGE_TOLERANCE`)."""
    try:
        out, dt = runner(x, out_scale)
    except SrbenchError as exc:
        raise SrbenchError(f"{name}: {exc}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the model's own code failed; SystemExit must not end the run
        text = str(exc).strip().splitlines()
        raise SrbenchError(f"{name}: the model raised {type(exc).__name__}"
                           f"{': ' + text[0] if text else ''}") from None
    out = _finite(out, name)
    lo, hi = float(out.min()), float(out.max())
    if lo < -RANGE_TOLERANCE * 255 or hi > (1 + RANGE_TOLERANCE) * 255:
        unit = 255.0 / io.value_range  # the range seen, in the model's own units
        raise SrbenchError(
            f"{name}: the output spans [{lo / unit:.4g}, {hi / unit:.4g}], far outside the declared value range "
            f"[0, {io.value_range}] (overshoot within {RANGE_TOLERANCE:g} x the range is clamped); declare the "
            "model's range (--io value_range=1|255) or fix its output")
    return out, dt


def model_input(protocol: Protocol, io: IOConvention, lr: np.ndarray, gray: bool = False) -> np.ndarray:
    """The LR as the model receives it: HxWxC float64 in the model's units (an array callable gets the
    uint8 RGB itself). Under a Y-only protocol and for a Y model, the Y (a grey image is its own Y where
    the protocol takes grey images as Y); else RGB."""
    div = 1.0 if io.array else 255.0 / io.value_range  # [0, 255] -> the model's input units
    if protocol.space == "y":
        return lr[..., None] / div
    if io.colour == "rgb":
        return lr if io.array else lr / div
    if gray and protocol.gray == "as-y":
        return lr[..., :1] / div
    return rgb_to_ycbcr(lr)[..., :1] / div


def model_inputs(protocol: Protocol, io: IOConvention, samples, scale: int, crop=None) -> list:
    """1 x C x h x w float32 tensors of ``samples``' LR exactly as the evaluation feeds the model
    (:func:`model_input`), centre-cropped to ``crop`` (an int, or (h, w)) when given: the one source of
    model inputs outside an evaluation (int8 calibration, timing on a set, ONNX export checks)."""
    import torch

    ch, cw = (crop, crop) if isinstance(crop, int) else (crop or (None, None))
    out = []
    for sample in samples:
        loaded = load(protocol, sample, scale, io.same_size)
        lr, _ = make_lr(protocol, loaded, sample, scale, io.same_size)
        x = model_input(protocol, io, lr, loaded.gray)
        if ch is not None:
            h, w = x.shape[:2]
            top, left = max(0, (h - ch) // 2), max(0, (w - cw) // 2)
            x = x[top:top + ch, left:left + cw]
        out.append(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32))[None])
    return out


def calibration_inputs(protocol: Protocol, io: IOConvention, samples, scale: int, patch: int, patches: int,
                       batch: int) -> list:
    """int8 calibration data: the LR of ``samples`` as the model receives it (:func:`model_inputs`), cut
    into non-overlapping ``patch`` x ``patch`` squares on a grid from each image's top-left corner;
    ``patches`` of them, taken evenly over the list of all, in batches of at most ``batch``. Fewer squares
    than ``patches`` is an error."""
    import torch

    squares = []
    for x in model_inputs(protocol, io, samples, scale):
        x = x[0]
        for top in range(0, x.shape[1] - patch + 1, patch):
            for left in range(0, x.shape[2] - patch + 1, patch):
                squares.append(x[:, top:top + patch, left:left + patch])
    if len(squares) < patches:
        raise SrbenchError(f"the calibration images give only {len(squares)} LR patches of {patch}x{patch} at "
                           f"x{scale}; {patches} are needed (use more images or another calibration set)")
    picked = [squares[i] for i in np.linspace(0, len(squares) - 1, patches).round().astype(int)]
    return [torch.stack(picked[i:i + batch]).contiguous() for i in range(0, len(picked), batch)]


def _finite(x: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(x).all():
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise SrbenchError(f"{name}: the model's output has {bad} NaN/Inf values; this is a bug in the model "
                           "(or its precision), not a score")
    return x


def _quantize(sr255: np.ndarray, mode: str) -> np.ndarray:
    if mode == "truncate":  # numpy astype(uint8) after clipping, as FALSR's calculate.py
        return np.clip(sr255, 0, 255).astype(np.uint8)
    return round_uint8(sr255)


def check_sr(protocol: Protocol, sr: np.ndarray, loaded: Loaded, label: str) -> np.ndarray:
    """An SR image (from a model or a file) against its HR: size, channels."""
    hr = loaded.hr
    if protocol.space == "y":
        if sr.ndim != 2:
            raise SrbenchError(f"{label} {loaded.name}: protocol '{protocol.name}' is Y-only and needs a single-channel "
                               f"SR (its Y), got {sr.shape[2]} channels")
    elif sr.ndim == 2 and not loaded.gray:
        raise SrbenchError(f"{label} {loaded.name}: the SR image is single-channel but the HR is RGB")
    if sr.shape[:2] != hr.shape[:2]:
        raise SrbenchError(f"{label} {loaded.name}: SR is {sr.shape[1]}x{sr.shape[0]} but the HR (modcropped) is "
                           f"{hr.shape[1]}x{hr.shape[0]}")
    return sr


# ---------------------------------------------------------------------------------------------
# metric inputs


def hr_luma(protocol: Protocol, img: np.ndarray, gray: bool) -> np.ndarray:
    """The Y (float64, [0, 255] scale) ``protocol`` computes PSNR/SSIM on.

    A grey source under ``gray = "as-y"`` is its own Y (MATLAB scripts use a single-channel image
    directly); an RGB output for it is brought back to one channel with full-range BT.601 luma.
    Under ``"replicate"`` it is read as RGB with R = G = B (Y on the 16-235 scale).
    """
    if img.ndim == 2 and protocol.gray == "as-y":
        y = img.astype(np.float64)
    elif gray and protocol.gray == "as-y":
        y = gray_of(img)
    else:
        return rgb_to_y(to_rgb(img), rounded=protocol.y_rounding)
    return round_uint8(y).astype(np.float64) if protocol.y_rounding else y


def nr_image(protocol: Protocol, sr: np.ndarray, gray: bool) -> np.ndarray:
    """The no-reference grey image: ``nr_luma`` of the uint8 SR (integer levels), shaved ``nr_shave``.

    ``y`` = Y of MATLAB ``rgb2ycbcr`` on uint8 (PIRM-2018 ``convert_shave_image.m``); ``gray`` =
    MATLAB ``rgb2gray`` on uint8 (the NIQE release's ``computequality.m``). A grey source under
    ``gray = "as-y"`` is its own grey image.
    """
    if sr.ndim == 2 and protocol.gray == "as-y":
        g = sr.astype(np.float64)
    elif gray and protocol.gray == "as-y":
        g = gray_of(sr)
    elif protocol.nr_luma == "gray":
        g = rgb_to_gray(to_rgb(sr))
    else:
        return rgb_to_y_uint8(to_rgb(sr)).astype(np.float64)  # ties rounded in MATLAB's formula order
    return round_uint8(g).astype(np.float64)


def prepare(protocol: Protocol, scale: int | None, name: str, sr: np.ndarray, hr: np.ndarray | None, gray: bool,
            needs: set) -> Prepared:
    """The :class:`Prepared` pair of one uint8 SR (and HR) for the metric inputs in ``needs``."""
    if hr is not None and sr.shape[:2] != hr.shape[:2]:
        raise SrbenchError(f"{name}: SR and HR sizes differ: {sr.shape[1]}x{sr.shape[0]} vs {hr.shape[1]}x{hr.shape[0]}")
    if hr is None and needs - {"nr"}:
        raise SrbenchError(f"{name}: {', '.join(sorted(needs - {'nr'}))} metrics need the HR image")
    out: dict = {}
    if "y" in needs:
        b = shave_for(protocol.shave, scale)
        if protocol.fidelity == "rgb":  # PSNR/SSIM on the RGB channels (NTIRE challenges)
            out["y"] = tuple(_shave(to_rgb(im).astype(np.float64), b, name) for im in (sr, hr))
        else:
            sr_y = sr.astype(np.float64) if protocol.space == "y" else hr_luma(protocol, sr, gray)
            out["y"] = (_shave(sr_y, b, name), _shave(hr_luma(protocol, hr, gray), b, name))
    if needs & {"rgb", "lpips"}:
        if protocol.space == "y":
            raise SrbenchError(f"protocol '{protocol.name}' is Y-only: no RGB images to compare")
        for key, shave in (("rgb", protocol.shave), ("lpips", protocol.lpips_shave)):
            if key in needs:
                b = shave_for(shave, scale)
                out[key] = (_shave(to_rgb(sr), b, name), _shave(to_rgb(hr), b, name))
    if "nr" in needs:
        g = sr.astype(np.float64) if protocol.space == "y" else nr_image(protocol, sr, gray)
        out["nr"] = _shave(g, protocol.nr_shave, name)
    return Prepared(name, **out)


def prepare_arrays(protocol: Protocol, sr, hr, scale: int | None, needs: set) -> Prepared:
    """:func:`prepare` for user arrays (``compute``): uint8 HxWx3 or HxW; a single-channel HR (or
    SR, without HR) marks a grey source, as a grey file does in :func:`load`."""
    sr = check_uint8_image(sr, "sr")
    hr = None if hr is None else check_uint8_image(hr, "hr")
    if scale is not None:
        check_scale(scale)
    if hr is not None and sr.ndim == 2 and hr.ndim == 3:  # as check_sr: a grey SR cannot stand for an RGB HR
        raise SrbenchError("the SR is single-channel (HxW) but the HR is RGB (HxWx3): pass an RGB SR")
    gray = (hr if hr is not None else sr).ndim == 2
    if protocol.space == "y" and sr.ndim != 2:
        raise SrbenchError(f"protocol '{protocol.name}' is Y-only: pass the SR and HR Y as HxW arrays")
    return prepare(protocol, scale, "image", sr, hr, gray, needs)


def timed(fn, *args):
    """(fn(*args), seconds)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0
