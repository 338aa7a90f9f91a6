"""Running a model on one LR image: device, precision and optional overlapping tiles."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .errors import SrbenchError

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str = "cpu") -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise SrbenchError(f"unknown device '{device}'; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SrbenchError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return dev


def model_dtype(model: torch.nn.Module, precision: str) -> torch.dtype:
    if precision not in PRECISIONS:
        raise SrbenchError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)}")
    # Modules doing exact float64 arithmetic outside torch (the bicubic baseline) ignore precision.
    return torch.float64 if getattr(model, "wants_float64", False) else PRECISIONS[precision]


def prepare(model: torch.nn.Module, device: torch.device, precision: str) -> torch.nn.Module:
    return model.to(device=device, dtype=model_dtype(model, precision))


def _deterministic(device: torch.device):
    if device.type == "cuda":
        return torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True)
    return contextlib.nullcontext()


def _forward(model, x: torch.Tensor) -> torch.Tensor:
    return model(x)


def run_model(model: torch.nn.Module, lr: np.ndarray, out_scale: int, device: torch.device,
              precision: str = "fp32", tile: int | None = None, tile_overlap: int = 0) -> np.ndarray:
    """``model`` on an HxWxC float image in [0, 1] units -> (out_scale H)x(out_scale W)xC, times 255.

    The product with 255 is taken in the model's output dtype, as the official scripts do, so a
    truncating protocol sees the same values they see. With ``tile``, the LR is cut into tiles of
    ``tile`` px, each run with ``tile_overlap`` px of context on every side, and only the tile's own
    output kept: equal to the untiled output when the overlap covers the receptive field (models
    with global pooling, like IMDN's contrast-aware attention, always change under tiling).
    """
    dtype = model_dtype(model, precision)
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None].to(device=device, dtype=dtype)
    with torch.inference_mode(), _deterministic(device):
        if not tile:
            out = _forward(model, x)
        else:
            out = _tiled(model, x, out_scale, tile, tile_overlap)
        out = (out.float() if out.dtype in (torch.float16, torch.bfloat16) else out) * 255
    return out[0].permute(1, 2, 0).cpu().double().numpy()


def _tiled(model, x: torch.Tensor, s: int, tile: int, overlap: int) -> torch.Tensor:
    if tile <= 0 or overlap < 0:
        raise SrbenchError("--tile must be positive and --tile-overlap non-negative")
    _, c, h, w = x.shape
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(bottom + overlap, h), min(right + overlap, w)
            y = _forward(model, x[:, :, t0:t1, l0:l1])
            if out is None:
                out = y.new_zeros((1, y.shape[1], h * s, w * s))
            out[:, :, top * s:bottom * s, left * s:right * s] = y[
                :, :, (top - t0) * s:(bottom - t0) * s, (left - l0) * s:(right - l0) * s
            ]
    return out
