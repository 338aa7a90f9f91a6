"""From what the user names (a zoo name, ``PATH.toml[#NAME]``, ``module:builder``,
``onnx:PATH``, a torch module, a callable) to a :class:`~srbench.sources.source.Source`.
"""

from __future__ import annotations

from pathlib import Path

from srbench.errors import SrbenchError
from srbench.protocol.pipeline import IOConvention
from srbench.registry import Registry
from srbench.sources.source import (
    CallableSource,
    CardSource,
    ModuleSource,
    OnnxSource,
    Source,
    _exc_text,
    _io_text,
    io_items,
    module_fingerprint,
    parse_io,
)


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
    """A :class:`Source` for ``model`` (see the module docstring); ``scale`` is needed by builders. A
    name is resolved by the first form of :data:`NAME_FORMS` it matches."""
    if not isinstance(model, (str, Path)):
        return from_object(model, label, io)
    text = str(model).strip()
    if not text:
        raise SrbenchError("empty model name; see 'srbench list models'")
    for form in NAME_FORMS.names():
        matches, resolve = NAME_FORMS.get(form)
        if matches(text):
            return resolve(text, scale, label, io)
    raise SrbenchError(f"model '{text}' has none of the forms {', '.join(NAME_FORMS.names())}")


def _from_card_file(text: str, scale: int | None, label: str | None, io) -> Source:
    """``PATH.toml`` (one card) or ``PATH.toml#NAME``."""
    from srbench.models.cards import read_card_file

    path, _, name = text.partition("#")
    cards = read_card_file(path)
    if name:
        cards = [c for c in cards if c.name == name]
    if len(cards) != 1:
        names = ", ".join(c.name for c in read_card_file(path))
        raise SrbenchError(f"{path} holds the models {names or 'none'}: name one as {path}#NAME")
    return _with_label(from_card(cards[0]), label, io)


def _from_zoo(text: str, scale: int | None, label: str | None, io) -> Source:
    from srbench.models.registry import get_card

    return _with_label(from_card(get_card(text)), label, io)


def _with_label(src: Source, label: str | None, io) -> Source:
    if label:
        src.label = label
    if io_items(io):
        raise SrbenchError(f"model '{src.card.name}' is a model card: its I/O convention is the card's "
                           f"({_io_text(src.io)}); --io applies to user models (module:builder, onnx:, "
                           "torch modules, callables)")
    return src


def _from_builder(spec: str, scale: int | None, label: str | None, io) -> Source:
    """``module:builder``: ``builder(scale=s)`` returns a torch module or a callable."""
    from srbench.registry import import_object

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


def _from_onnx(text: str, scale: int | None, label: str | None, io) -> OnnxSource:
    """``onnx:PATH``: the convention from the file's metadata, overridden by ``io`` (colour,
    value_range = the file's input range, same_size)."""
    from srbench.deploy.onnx_model import read_metadata

    path = text.split(":", 1)[1]
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


# The forms a model name can take, tried in this order (the first that matches resolves it): a new form
# (a model hub, say) is one registration of (test, resolver(text, scale, label, io)).
NAME_FORMS: Registry = Registry("model name form")
NAME_FORMS.register("card-file", (lambda t: t.lower().endswith(".toml") or ".toml#" in t.lower(), _from_card_file))
NAME_FORMS.register("onnx", (lambda t: t.lower().startswith("onnx:"), _from_onnx))
NAME_FORMS.register("builder", (lambda t: ":" in t, _from_builder))
NAME_FORMS.register("zoo", (lambda t: True, _from_zoo))
