"""Export a zoo model to ONNX, with srbench's I/O convention in the file and a round-trip check.

torch's exporter (``torch.onnx.export(..., dynamo=True)``, the torch.export-based one; it needs
``onnxscript``) writes one self-contained file. The model card's I/O convention goes into the file's
``metadata_props`` under ``srbench.*`` keys (see :func:`io_metadata`), so that
:mod:`srbench.deploy.onnx_model` can run the file without the card. Before the file is put in place,
onnxruntime (CPU) runs it on LR crops of the embedded demo set and its output is compared with the
PyTorch model's: more than ``TOLERANCE`` apart (in [0, 1] units) and nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import numpy as np
import torch

from srbench import __version__
from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

TOLERANCE = 1e-4  # max abs difference, [0, 1] units, fp32
DEFAULT_OPSET = 18
# The lowest opset torch's (dynamo) exporter writes; asked for less, it writes this one instead.
MIN_OPSET = 18
EXAMPLE_LR = (48, 48)  # LR size of the example input (and of the graph with --fixed-shape)
SECOND_LR = (40, 56)  # a second size, to check a dynamic graph really takes other sizes
META_PREFIX = "srbench."


def require_onnx():
    """(onnx, onnxruntime), or a one-line error naming the extra to install."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise SrbenchError("ONNX support needs onnx and onnxruntime: pip install 'srbench[onnx]'") from None
    return onnx, onnxruntime


def check_exportable(card, model: torch.nn.Module) -> None:
    """Refuse, with the reason, models whose computation is not a torch graph."""
    from srbench.models.falsr import FALSR

    if not any(True for _ in model.parameters()):
        raise SrbenchError(f"{card.name} cannot be exported to ONNX: it is MATLAB imresize computed in numpy "
                           "(float64), not a torch graph")
    if isinstance(model, FALSR):
        raise SrbenchError(f"{card.name} cannot be exported to ONNX: its colour pipeline upsamples the chroma with "
                           "PIL bicubic on uint8 (numpy/PIL, outside torch), which an ONNX graph cannot hold")


def io_metadata(card, scale: int) -> dict[str, str]:
    """The I/O convention of ``card`` at ``scale``, as ``metadata_props`` (string values)."""
    weights = card.weights_for(scale)
    meta = {
        "model": card.name,
        "title": card.title,
        "scale": str(scale),
        "colour": card.colour,  # rgb: N x 3 RGB; y: N x 1, MATLAB rgb2ycbcr Y (16-235) / 255
        "input_range": "1",  # input values in [0, 1] (uint8 / 255); "255" would mean [0, 255]
        "output": "same units as the input, neither clamped nor rounded",
        "layout": "NCHW float32",
        "same_size": str(card.same_size).lower(),
        "convention": card.input_range,
        "srbench_version": __version__,
        "weights_sha256": weights.sha256 if weights is not None else "",
        "weights_url": weights.url if weights is not None else "",
        "source": f"{card.repo}@{card.commit}" if card.commit else card.repo,
        "torch": torch.__version__,
    }
    return {META_PREFIX + k: v for k, v in meta.items()}


def demo_inputs(card, scale: int, sizes) -> list[tuple[str, torch.Tensor]]:
    """The demo photographs' LR as the evaluation feeds the model (canonical protocol, the card's input
    convention; :func:`srbench.protocol.pipeline.model_inputs`), centre-cropped to each (h, w) in
    ``sizes``: (name, 1 x C x h x w float32 tensor) per image and size."""
    from srbench.datasets import open_dataset
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import CANONICAL, get_protocol

    io = pipeline.IOConvention(colour=card.colour, same_size=card.same_size)
    samples = open_dataset("demo").samples
    out = []
    for h, w in sizes:
        for sample, x in zip(samples, pipeline.model_inputs(get_protocol(CANONICAL), io, samples, scale, crop=(h, w))):
            if tuple(x.shape[2:]) != (h, w):
                raise SrbenchError(f"demo image {sample.name} is too small for a {w}x{h} LR crop at x{scale}")
            out.append((f"{sample.name} {w}x{h}", x))
    return out


# The exporter's libraries log every optimiser pass at INFO (tens of lines per model).
EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def _exporter_chatter():
    """Capture what the exporter prints on stdout and logs through its own loggers, and pass it on
    to srbench's log at DEBUG: srbench keeps stdout for results and stderr for what the user must see.
    Errors still propagate as exceptions."""
    chatter = io.StringIO()
    handler = logging.StreamHandler(chatter)
    saved = []
    for name in EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    try:
        with contextlib.redirect_stdout(chatter):
            yield
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
        if chatter.getvalue().strip():
            log.debug("ONNX exporter: %s", chatter.getvalue().strip())


def _export(model, example: torch.Tensor, opset: int, dynamic: bool, what: str):
    kwargs = {}
    if dynamic:
        dim = torch.export.Dim
        kwargs["dynamic_shapes"] = ({0: dim("batch"), 2: dim("height"), 3: dim("width")},)
    try:
        with _exporter_chatter(), torch.no_grad():
            return torch.onnx.export(model, (example,), dynamo=True, opset_version=opset, input_names=["lr"],
                                     output_names=["sr"], external_data=False, verbose=False, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; any failure = "not exportable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("; with --fixed-shape it may export for 1 x C x 48 x 48 inputs (a graph whose shapes depend on the "
                "input size)") if dynamic else ""
        raise SrbenchError(f"{what} could not be exported to ONNX opset {opset}: {first}{hint}") from None


def max_abs_diff(session, model, inputs) -> float:
    """Largest |onnxruntime - PyTorch| over ``inputs`` ((name, tensor) pairs)."""
    name = session.get_inputs()[0].name
    worst = 0.0
    for _, x in inputs:
        got = session.run(None, {name: x.numpy()})[0]
        with torch.no_grad():
            ref = model(x).numpy()
        if got.shape != ref.shape:
            raise SrbenchError(f"the ONNX graph gives {got.shape} for input {tuple(x.shape)}, PyTorch {ref.shape}")
        worst = max(worst, float(np.abs(got.astype(np.float64) - ref).max()))
    return worst


def export_onnx(model_name: str, scale: int, out: str | Path | None = None, *,
                opset: int = DEFAULT_OPSET, dynamic: bool = True) -> dict:
    """Export ``model_name`` at ``scale`` to ``out`` (default ``<model>_x<scale>.onnx``); returns a report.

    By default (``dynamic``) the graph takes any batch and size; without it exactly 1 x C x 48 x 48.
    The file is written only if onnxruntime's output matches PyTorch's within ``TOLERANCE``.
    """
    onnx, ort = require_onnx()
    from srbench.models.builder import build_model
    from srbench.models.registry import get_card
    from srbench.store.assets import sha256_of

    card = get_card(model_name)
    card.check_scale(scale)
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise SrbenchError(f"ONNX opset {opset!r}: torch's exporter writes opset {MIN_OPSET} or higher; "
                           f"use --opset {MIN_OPSET} (the default) or higher")
    check_exportable(card, build_model(card, scale, pretrained=False))  # before any weights are fetched
    model = build_model(card, scale).float().cpu().eval()
    what = f"{card.name} x{scale}"
    path = Path(out) if out else Path(f"{card.name}_x{scale}.onnx")
    sizes = [EXAMPLE_LR, SECOND_LR] if dynamic else [EXAMPLE_LR]
    inputs = demo_inputs(card, scale, sizes)

    program = _export(model, inputs[0][1], opset, dynamic, what)
    program.model.metadata_props.update(io_metadata(card, scale))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with _exporter_chatter():
            program.save(str(tmp), external_data=False)
        written = {o.domain: o.version for o in onnx.load(str(tmp), load_external_data=False).opset_import}.get("")
        if written != opset:  # torch's exporter raises a lower opset to the lowest it supports
            raise SrbenchError(f"{what}: torch's ONNX exporter wrote opset {written}, not the opset {opset} asked for; "
                               f"use --opset {written} or higher; nothing written")
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        diff = max_abs_diff(session, model, inputs)
        if diff > TOLERANCE:
            raise SrbenchError(f"{what}: the ONNX graph differs from PyTorch by up to {diff:.2e} on the demo crops "
                               f"(> {TOLERANCE:g}); nothing written")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    graph = onnx.load(str(path), load_external_data=False)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
        "model": card.name,
        "scale": scale,
        "opset": opset,
        "dynamic": dynamic,
        "input_shape": _shape(graph.graph.input[0]),
        "output_shape": _shape(graph.graph.output[0]),
        "metadata": {p.key: p.value for p in graph.metadata_props},
        "check": {"inputs": [n for n, _ in inputs], "max_abs_diff": diff, "tolerance": TOLERANCE,
                  "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider"},
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__},
    }


def _shape(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


__all__ = ["DEFAULT_OPSET", "META_PREFIX", "TOLERANCE", "check_exportable", "demo_inputs", "export_onnx",
           "io_metadata", "max_abs_diff", "require_onnx"]
