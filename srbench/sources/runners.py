"""Runners: in the process that runs images, a source becomes
``runner(x, out_scale) -> (output on the [0, 255] scale, forward seconds)``.
"""

from __future__ import annotations

import time

import numpy as np

from srbench.errors import SrbenchError
from srbench.protocol.pipeline import IOConvention
from srbench.sources.source import Source


class TensorRunner:
    """A torch module on the chosen device and precision (optionally tiled)."""

    def __init__(self, module, io: IOConvention, device: str, precision: str, tile, tile_overlap: int):
        from srbench.sources.inference import prepare, resolve_device

        self.device = resolve_device(device)
        self.module = prepare(module, self.device, precision)
        self.precision, self.tile, self.tile_overlap = precision, tile, tile_overlap
        self.to_255 = 255.0 / io.value_range

    def dtype(self) -> str:
        from srbench.sources.inference import model_dtype

        return str(model_dtype(self.module, self.precision)).replace("torch.", "")

    def __call__(self, x: np.ndarray, out_scale: int):
        from srbench.sources.inference import run_model

        return run_model(self.module, x, out_scale, self.device, self.precision, self.tile, self.tile_overlap,
                         self.to_255)


class ArrayRunner:
    """A callable on HxWx3 numpy arrays; its output is checked (type, size, channels, dtype)."""

    def __init__(self, fn, io: IOConvention, label: str):
        self.fn, self.io, self.label = fn, io, label

    def dtype(self) -> str:
        return "n/a (callable)"

    def __call__(self, x: np.ndarray, out_scale: int):
        t0 = time.perf_counter()
        out = self.fn(x)
        seconds = time.perf_counter() - t0
        out = np.asarray(out)
        expected = (x.shape[0] * out_scale, x.shape[1] * out_scale, x.shape[2])
        if out.shape != expected:
            raise SrbenchError(f"returned an array of shape {out.shape} for an LR of shape {x.shape}; "
                               f"expected {expected}")
        if out.dtype == np.uint8:  # integer levels are on the 0-255 scale whatever value_range says
            return out.astype(np.float64), seconds
        if not np.issubdtype(out.dtype, np.floating):
            raise SrbenchError(f"returned {out.dtype} values; return uint8 or float values in [0, {self.io.value_range}]")
        return out.astype(np.float64) * (255.0 / self.io.value_range), seconds


def make_runner(source: Source, scale: int, device: str, precision: str, tile, tile_overlap: int):
    import torch

    built = source.build(scale, device)
    if isinstance(built, torch.nn.Module) and not source.io.array:
        # an int8 model takes float32 input: its precision is in the module
        return TensorRunner(built, source.io, device, "fp32" if precision == "int8" else precision, tile, tile_overlap)
    if precision != "fp32" or tile:
        raise SrbenchError(f"model '{source.label}' is a callable: --precision and --tile apply to torch modules only")
    return ArrayRunner(built, source.io, source.label)
