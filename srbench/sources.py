"""What srbench evaluates: a zoo name, a card file, a ``module:builder``, a torch module, any callable,
or a folder of SR images. Each becomes a :class:`Source`: a picklable description with a label, an
I/O convention, an identity (what changes its numbers) and, in the process that runs images, a
runner ``runner(x, out_scale) -> (output on the [0, 255] scale, forward seconds)``.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import SrbenchError
from .int8_recipes import Int8Recipe
from .pipeline import IOConvention

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


@dataclass
class Source:
    """Base: ``label`` names the model in results; ``card`` is set for zoo and card-file models."""

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
class CardSource(Source):
    """A model card (zoo or file) at one scale, with its official weights."""

    def identity(self) -> dict:
        c = self.card
        return {"kind": "card", "name": c.name, "builder": c.builder, "arch": c.arch,
                "weights_sha256": {k: a.sha256 for k, a in sorted(c.weights.items())}}

    def build(self, scale: int, device: str = "cpu"):
        from .models import build_model

        return build_model(self.card, scale)

    def weights(self, scale: int) -> dict | None:
        a = self.card.weights_for(scale)
        return None if a is None else {"file": a.filename, "sha256": a.sha256, "url": a.url}


@dataclass
class ModuleSource(Source):
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
class CallableSource(Source):
    """Any callable on HxWx3 numpy arrays; it has no fingerprint, so its results cannot be resumed."""

    fn: object = None

    def identity(self) -> dict:
        fn = self.fn
        return {"kind": "callable", "name": f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"}

    def build(self, scale: int, device: str = "cpu"):
        return self.fn


@dataclass
class FolderSource(Source):
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
class OnnxSource(Source):
    """An ONNX SR model run by onnxruntime (optional extra ``srbench[onnx]``); its I/O convention comes
    from the file's srbench metadata (``srbench export``) or the caller (``--io``)."""

    path: str = ""
    convention: dict = field(default_factory=dict)  # the caller's: colour, input_range, same_size

    def identity(self) -> dict:
        return {"kind": "onnx", "sha256": _file_sha256(self.path), "convention": self.convention}

    def build(self, scale: int, device: str = "cpu"):
        from .inference import EVAL_THREADS
        from .models.onnx_model import OnnxSR

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
class QuantizedSource(Source):
    """Another source's torch module, post-training int8 quantised (:func:`srbench.quantize.quantize_int8`)
    on calibration inputs of a named set; quantised once per process, deterministically."""

    base: Source = None
    recipe_spec: Int8Recipe = None  # how it is quantised (srbench.int8_recipes)
    calibration: dict = field(default_factory=dict)  # set, images, fingerprint, patch, patches
    inputs: list = field(default_factory=list, repr=False)  # the calibration tensors
    recipe: dict = field(default_factory=dict, repr=False)
    _model: object = field(default=None, repr=False)

    def identity(self) -> dict:
        return {"kind": "int8", "base": self.base.identity(), "recipe": self.recipe_spec.to_dict(),
                "calibration": self.calibration}

    def build(self, scale: int, device: str = "cpu"):
        import torch

        from .quantize import quantize_int8

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
    """A zoo model exported to ONNX and quantised by onnxruntime (:mod:`srbench.onnx_quantize`); the int8
    graph is made once (deterministically) and each process runs it from its own temporary file."""

    _graph: bytes = field(default=b"", repr=False)

    def build(self, scale: int, device: str = "cpu"):
        import atexit
        import shutil
        import tempfile

        from .inference import EVAL_THREADS
        from .models.onnx_model import OnnxSR
        from .onnx_quantize import quantize_onnx_int8

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
    from .assets import file_sha256

    return file_sha256(Path(path))


def from_card(card) -> CardSource:
    return CardSource(card.name, IOConvention(colour=card.colour, same_size=card.same_size), card)


def from_object(model, label: str | None, io) -> Source:
    """A torch module or a callable given in Python."""
    import torch

    if isinstance(model, torch.nn.Module):
        card_io = getattr(model, "srbench_io", None)  # a zoo module (create_model) keeps its card's I/O
        if card_io is not None and io_items(io):
            raise SrbenchError(f"{type(model).__name__} is a zoo model: its I/O convention is its card's "
                               f"({_io_text(IOConvention(**card_io))}); io= applies to user models")
        default = IOConvention(**card_io) if card_io is not None else IOConvention()
        return ModuleSource(label or type(model).__name__, parse_io(io, default), None, model,
                            module_fingerprint(model))
    if callable(model):
        conv = parse_io(io, IOConvention(value_range=255))
        conv = IOConvention(conv.colour, conv.value_range, conv.same_size, array=True)
        if conv.colour != "rgb":
            raise SrbenchError("a callable model works on RGB arrays; wrap a Y model as a torch module instead")
        return CallableSource(label or getattr(model, "__name__", type(model).__name__), conv, None, model)
    raise SrbenchError(f"cannot evaluate a {type(model).__name__}: pass a zoo name, a card file (.toml), "
                       "'module:builder', a torch.nn.Module or a callable")


def resolve_source(model, scale: int | None, label: str | None = None, io=None) -> Source:
    """A :class:`Source` for ``model`` (see the module docstring); ``scale`` is needed by builders."""
    from .models import get_card, read_card_file

    if not isinstance(model, (str, Path)):
        return from_object(model, label, io)
    text = str(model).strip()
    if not text:
        raise SrbenchError("empty model name; see 'srbench list models'")
    if text.lower().endswith(".toml") or ".toml#" in text.lower():
        path, _, name = text.partition("#")
        cards = read_card_file(path)
        if name:
            cards = [c for c in cards if c.name == name]
        if len(cards) != 1:
            names = ", ".join(c.name for c in read_card_file(path))
            raise SrbenchError(f"{path} holds the models {names or 'none'}: name one as {path}#NAME")
        return _with_label(from_card(cards[0]), label, io)
    if text.lower().startswith("onnx:"):
        return _from_onnx(text.split(":", 1)[1], scale, label, io)
    if ":" in text:
        return _from_builder(text, scale, label, io)
    return _with_label(from_card(get_card(text)), label, io)


def _with_label(src: Source, label: str | None, io) -> Source:
    if label:
        src.label = label
    if io_items(io):
        raise SrbenchError(f"model '{src.card.name}' is a model card: its I/O convention is the card's "
                           f"({_io_text(src.io)}); --io applies to user models (module:builder, onnx:, "
                           "torch modules, callables)")
    return src


def _io_text(io: IOConvention) -> str:
    return f"colour={io.colour},value_range={io.value_range},same_size={str(io.same_size).lower()}"


def _from_builder(spec: str, scale: int | None, label: str | None, io) -> Source:
    """``module:builder``: ``builder(scale=s)`` returns a torch module or a callable."""
    from .registry import import_object

    if scale is None:
        raise SrbenchError(f"model '{spec}': a builder needs --scale")
    builder = import_object(spec, f"model '{spec}'")
    if not callable(builder):
        raise SrbenchError(f"model '{spec}': {spec} is not callable")
    try:
        built = builder(scale=scale)
    except SrbenchError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: one line naming it, not a traceback
        raise SrbenchError(f"model '{spec}': its builder raised {_exc_text(exc)}") from None
    src = from_object(built, label or spec, io)
    if isinstance(src, ModuleSource):
        src.builder = spec
    return src


def _exc_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _from_onnx(path: str, scale: int | None, label: str | None, io) -> OnnxSource:
    """``onnx:PATH``: the convention from the file's metadata, overridden by ``io`` (colour,
    value_range = the file's input range, same_size)."""
    from .models.onnx_model import read_metadata

    if not path or not Path(path).is_file():
        raise SrbenchError(f"onnx:{path}: no such file")
    meta = read_metadata(path)
    given = io_items(io)
    conv = {k: given[g] for k, g in (("colour", "colour"), ("input_range", "value_range"), ("same_size", "same_size"))
            if g in given}
    colour = conv.get("colour", meta.get("colour"))
    if colour is None:
        raise SrbenchError(f"{path} has no srbench metadata (not written by srbench export): give its convention "
                           "with --io colour=rgb|y,value_range=1|255,same_size=true|false")
    same = conv.get("same_size", meta.get("same_size", "false").lower() == "true")
    if scale is not None and meta.get("scale") is not None and int(meta["scale"]) != scale:
        raise SrbenchError(f"{path} is an x{meta['scale']} model (its metadata); --scale {scale} does not fit")
    name = label or f"{Path(path).stem}.onnx"  # never a zoo name: its results are the ONNX file's
    # the runner gets [0, 1] values whatever the file's range: OnnxSR scales in and out
    return OnnxSource(name, IOConvention(colour=colour, same_size=same), None, str(Path(path).resolve()), conv)


def folder_source(sr_dir, samples, scale: int, label: str | None, allow_missing: bool) -> FolderSource:
    """Match the SR files in ``sr_dir`` to the set's images (rules in :func:`match_sr_files`)."""
    root = Path(sr_dir).expanduser()
    if not root.is_dir():
        raise SrbenchError(f"--sr {root}: not a directory")
    files = match_sr_files(root, samples, scale, allow_missing)
    return FolderSource(label or root.name, IOConvention(), None, files, str(root.resolve()))


# An SR file matches a set image when its name, without extension, is the image's stem optionally
# followed by a scale tag and/or an SR tag: img_001, img_001_x4, img_001x4, img_001_SR,
# img_001_x4_SR, img_001_SRF_4, img_001_SRF_4_SR (case-insensitive; separators _ or -).
def _sr_pattern(stem: str, scale: int) -> re.Pattern:
    scale_tag = rf"(?:[_-]?x{scale}|[_-]srf[_-]{scale})"
    sr_tag = r"(?:[_-](?:sr|out|output|result))"
    return re.compile(rf"{re.escape(stem)}{scale_tag}?{sr_tag}?", re.IGNORECASE)


def match_sr_files(root: Path, samples, scale: int, allow_missing: bool = False) -> dict:
    from .io import IMAGE_EXTENSIONS

    candidates = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    matched: dict[str, Path] = {}
    used: set[Path] = set()
    for s in samples:
        pattern = _sr_pattern(s.hr_path.stem, scale)
        hits = [p for p in candidates if pattern.fullmatch(p.stem)]
        if len(hits) > 1:
            raise SrbenchError(f"--sr {root}: {len(hits)} files match {s.hr_path.name} "
                               f"({', '.join(p.name for p in hits[:3])}); keep one")
        if hits:
            matched[s.hr_path.name] = hits[0]
            used.add(hits[0])
    missing = [s.hr_path.name for s in samples if s.hr_path.name not in matched]
    extra = [p.name for p in candidates if p not in used]
    if missing and not allow_missing:
        raise SrbenchError(f"--sr {root}: no SR image for {len(missing)} of {len(samples)} images "
                           f"({', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}); name files like "
                           f"<stem>.png, <stem>_x{scale}.png or <stem>_SR.png, or pass --allow-missing")
    if extra and not allow_missing:
        raise SrbenchError(f"--sr {root}: {len(extra)} file(s) match no image of the set "
                           f"({', '.join(extra[:3])}{' …' if len(extra) > 3 else ''}); remove them or pass --allow-missing")
    if not matched:
        raise SrbenchError(f"--sr {root}: no file matches any image of the set")
    return matched


# ---------------------------------------------------------------------------------------------
# runners (built in the process that runs images)


class TensorRunner:
    """A torch module on the chosen device and precision (optionally tiled)."""

    def __init__(self, module, io: IOConvention, device: str, precision: str, tile, tile_overlap: int):
        from .inference import prepare, resolve_device

        self.device = resolve_device(device)
        self.module = prepare(module, self.device, precision)
        self.precision, self.tile, self.tile_overlap = precision, tile, tile_overlap
        self.to_255 = 255.0 / io.value_range

    def dtype(self) -> str:
        from .inference import model_dtype

        return str(model_dtype(self.module, self.precision)).replace("torch.", "")

    def __call__(self, x: np.ndarray, out_scale: int):
        from .inference import run_model

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
