"""Run any ONNX super-resolution model through onnxruntime with the zoo module contract.

:class:`OnnxSR` is a ``torch.nn.Module`` whose ``forward`` maps N x C x h x w float in [0, 1] to the
SR output in the same units (C = 3 RGB, or C = 1 for ``colour="y"``: MATLAB Y / 255), like every zoo
module. The file's I/O convention is read from its ``srbench.*`` metadata (written by
``srbench export``) or given by the caller, who must give it for a file from elsewhere:
``colour`` (rgb | y), ``input_range`` (1: values in [0, 1]; 255: in [0, 255], srbench scales in and
out), ``scale``, ``same_size``. Caller values override the metadata. The output size is checked
against the convention on every call, so a wrong ``scale`` fails loudly instead of scoring.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def read_metadata(path: str | Path) -> dict[str, str]:
    """The file's ``srbench.*`` metadata_props, keys without the prefix (empty for other files)."""
    from srbench.deploy.onnx_export import META_PREFIX, require_onnx

    onnx, _ = require_onnx()
    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise SrbenchError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and others for a damaged file
        raise SrbenchError(f"{path}: not a readable ONNX file ({type(exc).__name__}: {exc})") from None
    return {p.key.removeprefix(META_PREFIX): p.value for p in model.metadata_props if p.key.startswith(META_PREFIX)}


def _convention(meta: dict, colour, input_range, scale, same_size, path) -> dict:
    def pick(key, given, parse):
        if given is not None:
            return given
        if key not in meta:
            raise SrbenchError(f"{path} has no srbench metadata for '{key}' (not written by srbench export); "
                               f"pass {key}= (colour rgb|y, input_range 1|255, scale, same_size)")
        try:
            return parse(meta[key])
        except ValueError:
            raise SrbenchError(f"{path}: metadata {key}={meta[key]!r} is not valid") from None

    conv = {
        "colour": pick("colour", colour, str),
        "input_range": pick("input_range", input_range, float),
        "scale": pick("scale", scale, int),
        "same_size": pick("same_size", same_size, lambda v: {"true": True, "false": False}[v.lower()]),
    }
    if conv["colour"] not in ("rgb", "y"):
        raise SrbenchError(f"colour must be 'rgb' or 'y', not {conv['colour']!r}")
    if conv["input_range"] not in (1, 255):
        raise SrbenchError(f"input_range must be 1 ([0, 1] values) or 255 ([0, 255]), not {conv['input_range']:g}")
    if conv["scale"] < 1:
        raise SrbenchError(f"scale must be a positive integer, not {conv['scale']}")
    return conv


class OnnxSR(nn.Module):
    """An onnxruntime session behind the zoo contract; :meth:`provenance` says what ran it."""

    def __init__(self, path: str | Path, *, colour: str | None = None, input_range: float | None = None,
                 scale: int | None = None, same_size: bool | None = None, device: str = "cpu",
                 threads: int | None = None):
        super().__init__()
        from srbench.deploy.onnx_export import require_onnx
        from srbench.store.assets import sha256_of

        _, ort = require_onnx()
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        conv = _convention(self.metadata, colour, input_range, scale, same_size, self.path)
        self.colour, self.input_range = conv["colour"], conv["input_range"]
        self.scale, self.same_size = conv["scale"], conv["same_size"]
        self.channels = 1 if self.colour == "y" else 3
        kind = device.split(":")[0]
        if kind not in PROVIDERS:
            raise SrbenchError(f"ONNX models run on cpu or cuda, not '{device}'")
        available = ort.get_available_providers()
        if PROVIDERS[kind] not in available:
            raise SrbenchError(f"onnxruntime {ort.__version__} here has no {PROVIDERS[kind]} (it has "
                               f"{', '.join(available)}); for --device cuda install onnxruntime-gpu instead of onnxruntime")
        providers = [PROVIDERS[kind]]
        if kind == "cuda":
            index = int(device.split(":")[1]) if ":" in device else 0
            providers = [(PROVIDERS["cuda"], {"device_id": index})]
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types (InvalidGraph, Fail, ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SrbenchError(f"{self.path}: onnxruntime cannot load it ({first})") from None
        active = self.session.get_providers()
        if PROVIDERS[kind] not in active:  # onnxruntime falls back silently when a provider fails to start
            raise SrbenchError(f"{self.path}: onnxruntime did not start {PROVIDERS[kind]} (active: {', '.join(active)})")
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise SrbenchError(f"{self.path}: an SR model has one input image; this graph has {len(inputs)} inputs")
        self.input_name, self.input_shape = inputs[0].name, list(inputs[0].shape)
        self._provenance = {
            "runtime": "onnxruntime", "onnxruntime": ort.__version__, "device": device,
            "providers_requested": [PROVIDERS[kind]], "providers_active": active,
            "file": str(self.path), "sha256": sha256_of(self.path),
            "input": {"name": self.input_name, "shape": self.input_shape, "type": inputs[0].type},
            "convention": conv, "metadata": dict(self.metadata),
        }

    def provenance(self) -> dict:
        """Runtime, providers, file hash, I/O convention and the file's srbench metadata."""
        return dict(self._provenance)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise SrbenchError(f"{self.path.name} takes N x {self.channels} x h x w ({self.colour}), got {tuple(x.shape)}")
        for axis, (want, got) in enumerate(zip(self.input_shape, x.shape)):
            if isinstance(want, int) and want != got:
                raise SrbenchError(f"{self.path.name} was exported for inputs of shape {self.input_shape}, got "
                                   f"{tuple(x.shape)}; export it again without --fixed-shape")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        arr = x.detach().float().cpu().numpy() * np.float32(self.input_range)
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(arr)})[0]
        if self.input_range != 1:
            out = out / np.float32(self.input_range)
        factor = 1 if self.same_size else self.scale
        want = (x.shape[0], self.channels, x.shape[2] * factor, x.shape[3] * factor)
        if tuple(out.shape) != want:
            raise SrbenchError(f"{self.path.name} gave {tuple(out.shape)} for {tuple(x.shape)}; the convention "
                               f"(scale {self.scale}, same_size {self.same_size}) expects {want}")
        return torch.from_numpy(out).to(x.device)


def load_onnx_model(path: str | Path, **convention) -> OnnxSR:
    """:class:`OnnxSR` for ``path``; ``convention`` overrides (colour, input_range, scale, same_size,
    device, threads)."""
    return OnnxSR(path, **convention)


__all__ = ["PROVIDERS", "OnnxSR", "load_onnx_model", "read_metadata"]
