"""What srbench evaluates: each zoo name, card file, ``module:builder``, torch module, callable or
folder of SR images becomes a :class:`Source`, a picklable description with a label, an I/O convention
and an identity (what changes its numbers).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from srbench.deploy.int8_recipes import Int8Recipe
from srbench.errors import SrbenchError
from srbench.protocol.pipeline import IOConvention

IO_KEYS = {"colour": str, "value_range": int, "same_size": bool}


def io_items(text: str | dict | None) -> dict:
    """The I/O settings given explicitly: ``colour=y,value_range=255,same_size=true`` (CLI) or a dict."""
    if text is None:
        return {}
    items = dict(text) if isinstance(text, dict) else {}
    if isinstance(text, str):
        for part in (p for p in text.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            if not sep:
                raise SrbenchError(f"bad --io '{text}': use key=value pairs, e.g. colour=y,value_range=255")
            items[key.strip()] = value.strip()
    out = {}
    for key, value in items.items():
        if key not in IO_KEYS:
            raise SrbenchError(f"unknown I/O setting '{key}'; known: {', '.join(IO_KEYS)}")
        if IO_KEYS[key] is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise SrbenchError(f"I/O setting {key} must be true or false, got '{value}'")
            value = value.lower() in ("true", "1")
        elif IO_KEYS[key] is int and isinstance(value, str):
            if not value.isdigit():
                raise SrbenchError(f"I/O setting {key} must be an integer, got '{value}'")
            value = int(value)
        out[key] = value
    return out


def parse_io(text: str | dict | IOConvention | None, default: IOConvention) -> IOConvention:
    """An I/O convention: ``default`` with the settings of ``text`` (see :func:`io_items`)."""
    if isinstance(text, IOConvention):
        return text
    return IOConvention(**{**default.to_dict(), **io_items(text)})


def module_fingerprint(module) -> str:
    """sha256 of a torch module's class and state (names, dtypes, shapes, bytes)."""
    import torch

    h = hashlib.sha256(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class Source(Protocol):
    """What is evaluated, as the planner and the unit see it: a label (the model's name in results), an
    I/O convention, the card (zoo and card-file models; None otherwise), whether SR images come from
    files, an identity (what changes its numbers), and, in the process that runs images, the model."""

    label: str
    io: IOConvention
    card: object
    provides_sr: bool

    def identity(self) -> dict: ...

    def build(self, scale: int, device: str = "cpu"): ...

    def weights(self, scale: int) -> dict | None: ...


@dataclass
class BaseSource:
    """The fields and defaults every source kind shares: ``label`` names the model in results; ``card``
    is set for zoo and card-file models."""

    label: str
    io: IOConvention
    card: object = None

    provides_sr = False  # True: SR images come from files, there is no model

    def identity(self) -> dict:
        raise NotImplementedError

    def build(self, scale: int, device: str = "cpu"):
        """The torch module or callable (in the process that runs images)."""
        raise NotImplementedError

    def weights(self, scale: int) -> dict | None:
        return None


@dataclass
class CardSource(BaseSource):
    """A model card (zoo or file) at one scale, with its official weights."""

    def identity(self) -> dict:
        c = self.card
        return {"kind": "card", "name": c.name, "builder": c.builder, "arch": c.arch,
                "weights_sha256": {k: a.sha256 for k, a in sorted(c.weights.items())}}

    def build(self, scale: int, device: str = "cpu"):
        from srbench.models.builder import build_model

        return build_model(self.card, scale)

    def weights(self, scale: int) -> dict | None:
        a = self.card.weights_for(scale)
        return None if a is None else {"file": a.filename, "sha256": a.sha256, "url": a.url}


@dataclass
class ModuleSource(BaseSource):
    """A torch module given in Python (or built by ``module:builder``); its state is fingerprinted."""

    module: object = None
    fingerprint: str = ""
    builder: str = ""

    def identity(self) -> dict:
        return {"kind": "module", "class": f"{type(self.module).__module__}.{type(self.module).__qualname__}",
                "builder": self.builder, "fingerprint": self.fingerprint}

    def build(self, scale: int, device: str = "cpu"):
        return copy.deepcopy(self.module).eval()  # never change the caller's module (mode, device)


@dataclass
class CallableSource(BaseSource):
    """Any callable on HxWx3 numpy arrays; it has no fingerprint, so its results cannot be resumed."""

    fn: object = None

    def identity(self) -> dict:
        fn = self.fn
        return {"kind": "callable", "name": f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"}

    def build(self, scale: int, device: str = "cpu"):
        return self.fn


@dataclass
class FolderSource(BaseSource):
    """Precomputed SR images: ``files`` maps each set image's file name to its SR file."""

    files: dict = field(default_factory=dict)
    root: str = ""
    provides_sr = True

    def identity(self) -> dict:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + _file_sha256(self.files[name]).encode())
        return {"kind": "sr-folder", "label": self.label, "fingerprint": h.hexdigest()}


@dataclass
class OnnxSource(BaseSource):
    """An ONNX SR model run by onnxruntime (optional extra ``srbench[onnx]``); its I/O convention comes
    from the file's srbench metadata (``srbench export``) or the caller (``--io``)."""

    path: str = ""
    convention: dict = field(default_factory=dict)  # the caller's: colour, input_range, same_size

    def identity(self) -> dict:
        return {"kind": "onnx", "sha256": _file_sha256(self.path), "convention": self.convention}

    def build(self, scale: int, device: str = "cpu"):
        from srbench.deploy.onnx_model import OnnxSR
        from srbench.sources.inference import EVAL_THREADS

        return OnnxSR(self.path, scale=scale, device=device, threads=EVAL_THREADS, **self.convention)

    def weights(self, scale: int) -> dict | None:
        import onnx
        import onnxruntime

        # A graph quantised outside srbench (QDQ or QLinear ops) computes in int8 whatever --precision says.
        ops = [n.op_type for n in onnx.load(str(self.path), load_external_data=False).graph.node]
        int8_ops = sum(op in ("QuantizeLinear", "DequantizeLinear") or op.startswith("QLinear") for op in ops)
        return {"file": Path(self.path).name, "sha256": _file_sha256(self.path), "runtime": "onnxruntime",
                "onnxruntime": onnxruntime.__version__, "int8_ops": int8_ops}


@dataclass
class QuantizedSource(BaseSource):
    """Another source's torch module, post-training int8 quantised (:func:`srbench.deploy.quantize.quantize_int8`)
    on calibration inputs of a named set; quantised once per process, deterministically."""

    base: Source = None
    recipe_spec: Int8Recipe = None  # how it is quantised (srbench.deploy.int8_recipes)
    calibration: dict = field(default_factory=dict)  # set, images, fingerprint, patch, patches
    inputs: list = field(default_factory=list, repr=False)  # the calibration tensors
    recipe: dict = field(default_factory=dict, repr=False)
    _model: object = field(default=None, repr=False)

    def identity(self) -> dict:
        return {"kind": "int8", "base": self.base.identity(), "recipe": self.recipe_spec.to_dict(),
                "calibration": self.calibration}

    def build(self, scale: int, device: str = "cpu"):
        import torch

        from srbench.deploy.quantize import quantize_int8

        if device != "cpu":
            raise SrbenchError("an int8 model runs on the CPU: use --device cpu")
        if self._model is None:
            module = self.base.build(scale, device)
            if not isinstance(module, torch.nn.Module):
                raise SrbenchError(f"model '{self.label}' is not a torch module: int8 quantises torch modules")
            self._model, self.recipe = quantize_int8(module, self.inputs, recipe=self.recipe_spec)
        return self._model

    def weights(self, scale: int) -> dict | None:
        return self.base.weights(scale)

    def __getstate__(self):  # the quantised module does not pickle: each process quantises again
        return {**self.__dict__, "_model": None}


@dataclass
class OnnxInt8Source(QuantizedSource):
    """A zoo model exported to ONNX and quantised by onnxruntime (:mod:`srbench.deploy.onnx_quantize`); the int8
    graph is made once (deterministically) and each process runs it from its own temporary file."""

    _graph: bytes = field(default=b"", repr=False)

    def build(self, scale: int, device: str = "cpu"):
        import atexit
        import shutil
        import tempfile

        from srbench.deploy.onnx_model import OnnxSR
        from srbench.deploy.onnx_quantize import quantize_onnx_int8
        from srbench.sources.inference import EVAL_THREADS

        if device != "cpu":
            raise SrbenchError("the onnxruntime int8 route runs on the CPU: use --device cpu")
        if self.card is None or not isinstance(self.base, CardSource):
            raise SrbenchError(f"--backend onnxruntime quantises zoo models (it exports them first); '{self.label}' is not one")
        if self._model is None:
            if not self._graph:
                self._graph, self.recipe = quantize_onnx_int8(self.card, scale, self.inputs, self.recipe_spec)
            folder = tempfile.mkdtemp(prefix="srbench-ort-int8-")
            atexit.register(shutil.rmtree, folder, True)
            path = Path(folder) / f"{self.card.name}_x{scale}_int8.onnx"
            path.write_bytes(self._graph)
            self._model = OnnxSR(path, device=device, threads=EVAL_THREADS)
        return self._model


def _file_sha256(path) -> str:
    from srbench.store.assets import file_sha256

    return file_sha256(Path(path))


def _io_text(io: IOConvention) -> str:
    return f"colour={io.colour},value_range={io.value_range},same_size={str(io.same_size).lower()}"


def _exc_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
