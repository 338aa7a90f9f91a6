"""Profiling one model: counts at a convention's size (:mod:`srbench.cost.complexity`), NTIRE activations,
and timing on random inputs or on a set's LR images as the evaluation feeds them, for zoo cards, their
architecture variants (``--arch``) and ONNX files. ``srbench profile`` prints what these return."""

from __future__ import annotations

import re

from srbench.errors import SrbenchError


def parse_arch(value: str | None) -> dict:
    """'num_modules=8,distillation_rate=1/3,last_stage=split' -> {'num_modules': 8, ...}."""
    out = {}
    if not value:
        return out
    for item in (part.strip() for part in value.split(",") if part.strip()):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise SrbenchError(f"bad --arch item '{item}': use key=value,key=value")
        out[key.strip()] = _arch_value(raw.strip())
    return out


def _arch_value(raw: str):
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    if re.fullmatch(r"[+-]?\d+/\d+", raw):
        num, den = raw.split("/")
        if int(den) == 0:
            raise SrbenchError(f"bad --arch value '{raw}': division by zero")
        return int(num) / int(den)
    try:
        return float(raw)
    except ValueError:
        return raw


# The largest LR input timed: 8192 x 8192 (a 32K x 32K output at x4). Beyond it, an SR network's
# activations (tens of feature maps of the input's size) exceed the memory of any current device.
MAX_INPUT_PIXELS = 8192 * 8192


def parse_size(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise SrbenchError(f"bad --input '{value}': use WxH, e.g. --input 320x180")
    w, h = int(m.group(1)), int(m.group(2))
    if w * h > MAX_INPUT_PIXELS:
        raise SrbenchError(f"--input {w}x{h} is too large to time ({w * h / 1e6:.0f} megapixels; at most "
                           f"{MAX_INPUT_PIXELS / 1e6:.0f}, e.g. 8192x8192): use a smaller input or tiles")
    return h, w  # (height, width)


def set_inputs(model_or_card, scale: int, name: str, data_root, limit, dtype) -> list:
    """LR tensors of a set exactly as the evaluation feeds the model under the canonical protocol
    (:func:`srbench.protocol.pipeline.model_inputs`; a same-size model gets the HR itself); ``model_or_card``
    needs ``.colour`` and ``.same_size`` (a card, or an ONNX runner)."""
    from srbench.datasets import open_dataset
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import CANONICAL, get_protocol

    samples = open_dataset(name, data_root).samples[: limit or None]
    if not samples:
        raise SrbenchError(f"set '{name}' has no images")
    io = pipeline.IOConvention(colour=model_or_card.colour, same_size=model_or_card.same_size)
    return [x.to(dtype) for x in pipeline.model_inputs(get_protocol(CANONICAL), io, samples, scale)]


def random_input(channels: int, h: int, w: int, dtype):
    import torch

    return torch.rand(1, channels, h, w, generator=torch.Generator().manual_seed(0)).to(dtype)


def runtime(card, scale: int, doc: dict, *, convention: str, device: str, method: str = "both",
            threads: int | None = None, dataset: str | None = None, data_root=None, limit: int | None = None,
            input_size_text: str | None = None, memory: bool = False) -> list[dict]:
    """One timing per method (``ntire``, ``clean`` or ``both``) of ``card`` at ``scale``: on the LR images
    of ``dataset``, else on a random input of ``input_size_text`` (WxH), else the convention's size."""
    from srbench.cost.complexity import build_for_counting, input_size
    from srbench.cost.runtime import cpu_peak_memory, time_set
    from srbench.sources.inference import model_dtype

    model = build_for_counting(card, scale)
    dtype = model_dtype(model, "fp32")
    channels = doc["input_channels"]
    if dataset:
        inputs = set_inputs(card, scale, dataset, data_root, limit, dtype)
        source = f"{dataset} ({len(inputs)} images)"
    else:
        h, w = parse_size(input_size_text) if input_size_text else (round(v) for v in input_size(card, scale, convention))
        inputs = [random_input(channels, h, w, dtype)]
        source = f"random {w}x{h}"
    methods = ("ntire", "clean") if method == "both" else (method,)
    runs = [{"input": source, **time_set(model, inputs, device, m, threads)} for m in methods]
    if memory and runs[0]["environment"]["device"] == "cpu":
        # One measurement after all timing (a warm process), the same for every method.
        peak, kind = cpu_peak_memory(model, inputs)
        for r in runs:
            r.update(peak_memory_mib=peak, memory_kind=kind)
    return runs


def activations(card, scale: int, convention: str, channels: int) -> dict:
    """The NTIRE activation and conv counts on the convention's input, rounded to whole pixels."""
    from srbench.cost.complexity import build_for_counting, input_size
    from srbench.cost.ntire import ntire2022_counts, ntire_input

    model = build_for_counting(card, scale)
    h, w = (round(v) for v in input_size(card, scale, convention))
    counts = ntire2022_counts(model, ntire_input(model, channels, (h, w)))
    return {"activations": counts["activations"], "activations_m": counts["activations"] / 1e6,
            "convs": counts["convs"], "activations_input": f"{w}x{h}"}


def onnx_profile(name: str, scale: int, *, convention: str = "hr720", device: str = "cpu", timed: bool = False,
                 memory: bool = False, method: str = "both", threads: int | None = None, dataset: str | None = None, data_root=None,
                 limit: int | None = None, input_size_text: str | None = None) -> dict:
    """An ONNX model: params = the graph's initializer elements (no Mult-Adds), and its runtime, by
    default on the input a torch model is timed on under ``convention`` (the same size, so they compare)."""
    import math

    import onnx
    import torch

    from srbench.cost.complexity import input_size, weight_bytes
    from srbench.deploy.onnx_model import OnnxSR

    path = name.split(":", 1)[1]
    model = OnnxSR(path, scale=scale, device=device if timed or memory else "cpu", threads=threads)
    params = sum(math.prod(t.dims) for t in onnx.load(path, load_external_data=False).graph.initializer)
    doc = {"model": name, "scale": scale, "params": params, "weight_bytes": weight_bytes(params),
           "input_channels": model.channels, "provenance": model.provenance(),
           "notes": "ONNX graph: params = initializer elements; Mult-Adds and FLOPs are not counted"}
    if timed or memory:
        from srbench.cost.runtime import cpu_peak_memory, time_set

        if dataset:
            inputs = set_inputs(model, scale, dataset, data_root, limit, torch.float32)
            what = f"{dataset} ({len(inputs)} images)"
        else:
            h, w = (parse_size(input_size_text) if input_size_text
                    else (round(v) for v in input_size(model, scale, convention)))  # the torch models' input
            inputs, what = [random_input(model.channels, h, w, torch.float32)], f"random {w}x{h}"
        methods = ("ntire", "clean") if method == "both" else (method,)
        doc["runtime"] = [{"input": what, **time_set(model, inputs, device, m, threads)} for m in methods]
        if memory and doc["runtime"][0]["environment"]["device"] == "cpu":
            peak, kind = cpu_peak_memory(model, inputs)
            for r in doc["runtime"]:
                r.update(peak_memory_mib=peak, memory_kind=kind)
    return doc
