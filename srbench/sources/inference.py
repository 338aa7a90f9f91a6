"""Running a torch model on one LR image: device, precision, optional overlapping tiles, forward timing."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from srbench.errors import SrbenchError

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Torch threads per process while images are evaluated: fixed, because float32 convolutions give
# last-bit differences between thread counts, and values must not depend on --workers.
EVAL_THREADS = 1


@contextlib.contextmanager
def torch_threads(n: int = EVAL_THREADS):
    """The one place torch's intra-op thread count is pinned (evaluation: ``EVAL_THREADS``, so values are
    bit-identical whatever the number of workers; timing: the count asked for), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_model(model: torch.nn.Module, lr: np.ndarray, out_scale: int, device: torch.device,
              precision: str = "fp32", tile: int | None = None, tile_overlap: int = 0,
              to_255: float = 255.0) -> tuple[np.ndarray, float]:
    """``model`` on an HxWxC float image in its own units -> ((out_scale H)x(out_scale W)xC float64
    times ``to_255``, forward seconds).

    The product with ``to_255`` (255 for [0, 1] models) is taken in the model's output dtype, as the
    official scripts do, so a truncating protocol sees the values they see. Only the forward pass
    (tiles included, synchronised on a GPU) is timed. With ``tile``, the LR is cut into tiles of
    ``tile`` px, each run with ``tile_overlap`` px of context on every side, and only the tile's own
    output kept: equal to the untiled output when the overlap covers the receptive field (models
    with global pooling, like IMDN's contrast-aware attention, always change under tiling).
    """
    dtype = model_dtype(model, precision)
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None].to(device=device, dtype=dtype)
    try:
        with torch.inference_mode(), _deterministic(device):
            _sync(device)
            t0 = time.perf_counter()
            out = _tensor_out(model(x)) if not tile else _tiled(model, x, out_scale, tile, tile_overlap)
            _sync(device)
            seconds = time.perf_counter() - t0
            out = (out.float() if out.dtype in (torch.float16, torch.bfloat16) else out) * to_255
    except torch.OutOfMemoryError as exc:
        raise _oom(lr, exc, tile) from None
    except RuntimeError as exc:
        if "memory" in str(exc).lower() and "alloc" in str(exc).lower():
            raise _oom(lr, exc, tile) from None
        raise
    expected = (1, lr.shape[2], lr.shape[0] * out_scale, lr.shape[1] * out_scale)
    if tuple(out.shape) != expected:
        raise SrbenchError(f"the model returned a tensor of shape {tuple(out.shape)} for an input of shape "
                           f"{tuple(x.shape)}; expected {expected} (N, C, {out_scale}H, {out_scale}W)")
    return out[0].permute(1, 2, 0).cpu().double().numpy(), seconds


def _tensor_out(out) -> torch.Tensor:
    """A model's output must be one floating-point tensor (a tuple or an integer tensor is a bug, not a score)."""
    if not isinstance(out, torch.Tensor):
        raise SrbenchError(f"the model returned a {type(out).__name__}, not a tensor; return the SR image as one "
                           "N x C x H x W float tensor (wrap a model returning several outputs)")
    if not out.is_floating_point():
        raise SrbenchError(f"the model returned a {str(out.dtype).replace('torch.', '')} tensor; return floats in "
                           "its value range")
    return out


def _oom(lr: np.ndarray, exc: Exception, tile: int | None) -> SrbenchError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = "a smaller --tile" if tile else "--tile 256 --tile-overlap 16 (or a smaller tile)"
    return SrbenchError(f"the model ran out of memory on a {lr.shape[1]}x{lr.shape[0]} LR image ({first}); "
                        f"use {hint}")


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
            y = _tensor_out(model(x[:, :, t0:t1, l0:l1]))
            if out is None:
                out = y.new_zeros((1, y.shape[1], h * s, w * s))
            out[:, :, top * s:bottom * s, left * s:right * s] = y[
                :, :, (top - t0) * s:(bottom - t0) * s, (left - l0) * s:(right - l0) * s
            ]
    return out
