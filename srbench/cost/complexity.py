"""Parameters and Mult-Adds of a model, counted on the real module (SPEC §4).

Mult-Adds (MACs) follow the convention behind the SR literature's tables: every convolution whose
weight is a learnable parameter costs ``k*k*Cin/groups*Cout`` per output pixel; a transposed
convolution is counted per **HR output pixel** (``k*k*Cin*Cout/groups``; the convention behind
FSRCNN's 6.0/5.0/4.6 G). Bias, activations, adds, concat, PixelShuffle/DepthToSpace, interpolation
and fixed (buffer) convolutions such as MeanShift or FALSR's colour conv count 0. Matrix products
(none in the zoo) count their MACs. Anything computed outside torch (numpy, PIL) is invisible to
both counts: FALSR's chroma path (PIL bicubic x2 of the LR's Pb/Pr, as the released pipeline) and
the bicubic baseline (numpy MATLAB imresize), which is also why the baseline's true FLOPs are n/a.

The count comes from ``torch.utils.flop_counter.FlopCounterMode`` with a ``custom_mapping`` for the
convolution op. The stock counter runs alongside and gives the *true* FLOPs (2 x MACs, transposed
conv per input pixel, fixed convs included), reported as such.

Convolutions with "same" padding cost the same per output pixel everywhere, so the count is exact
at any size: it is taken at four small probe sizes and fitted exactly as ``a*h*w + b*h + c*w + d``,
then evaluated at the convention's input size, which may be fractional (x3 at 720p: 426.67 x 240 =
102,400 LR pixels). ``d`` is not 0 for IMDN: its channel attention runs 1x1 convs on pooled
features, once per image whatever its size.
"""

from __future__ import annotations

import copy
import logging
import math
from fractions import Fraction

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from srbench.cost.counting import MAX_PROBE, fit_at_size, meta_copy
from srbench.cost.counting import PROBE as _PROBE
from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

HR720 = (720, 1280)  # (height, width) of the HR output
LR480 = (480, 480)

CONVENTIONS = {
    "hr720": "input sized so that the HR output is 1280x720 (LR 1280/s x 720/s, fractional at x3); "
             "same-size models: the 1280x720 image itself",
    "lr480": "480x480 LR input (NAS papers); equals hr720 at x2 only",
    "ntire2022": "NTIRE 2022 efficient-SR challenge: 1x3x256x256 LR input; FLOPs, #activations and #conv from "
                 "the challenge's forward hooks (utils/model_summary.py), every parameter",
    "ntire2024": "NTIRE 2024 efficient-SR challenge: as ntire2022, FLOPs from fvcore FlopCountAnalysis",
}
NTIRE_CONVENTIONS = ("ntire2022", "ntire2024")
BYTES_PER_WEIGHT = {"fp32": 4, "fp16": 2, "int8": 1}  # int8: quantisation scales/zero-points not included

MACS_RULE = ("learnable conv/depthwise/grouped conv weights only, k*k*Cin/groups*Cout per output pixel; "
             "transposed conv per HR output pixel; bias, activations, adds, concat, pixel shuffle, "
             "interpolation, fixed (buffer) convs and ops outside torch count 0")
FLOPS_RULE = ("torch.utils.flop_counter.FlopCounterMode as is: 2 x MACs, transposed conv per input pixel, "
              "fixed convs included, ops outside torch invisible")

_CONV_OPS = (torch.ops.aten.convolution, torch.ops.aten._convolution)


def _counted(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters that count: all registered ``nn.Parameter``s, except frozen ones when the
    module mixes trainable and frozen (EDSR-style MeanShift). ``build_model`` freezes everything for
    inference, so an all-frozen module counts all its parameters. srbench's ports register fixed
    transforms (MeanShift, FALSR's colour conv) as buffers, which never count."""
    params = list(module.parameters())  # shared parameters (CARN-M) appear once
    trainable = [p for p in params if p.requires_grad]
    return trainable if trainable else params


def count_params(module: torch.nn.Module) -> int:
    """Learnable parameters (PReLU slopes included; buffers and frozen MeanShift convs excluded)."""
    return sum(p.numel() for p in _counted(module))


def count_weights(module: torch.nn.Module) -> int:
    """Kernel entries only (parameters with 2+ dims): no biases, no PReLU slopes. FSRCNN's
    published 12,464 counts these."""
    return sum(p.numel() for p in _counted(module) if p.dim() >= 2)


def _mapping(weight_ids: set[int]) -> dict:
    """``custom_mapping`` giving MACs under srbench's convention (raw tensors, not shapes)."""

    def conv_macs(x, w, bias, stride, padding, dilation, transposed, *rest, out_val=None, **kwargs):
        # aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
        # groups). weight is (Cout, Cin/g, k, k), or (Cin, Cout/g, k, k) when transposed: either way
        # prod(weight) = k*k*Cin/g*Cout, charged per output pixel (the HR pixel for a deconv).
        # A parameter or a view of one (identity, not storage: meta tensors have no storage address).
        if id(w) not in weight_ids and (w._base is None or id(w._base) not in weight_ids):
            return 0  # a fixed transform (MeanShift, colour conv), not a network weight
        return out_val.shape[0] * math.prod(out_val.shape[2:]) * math.prod(w.shape)

    conv_macs._get_raw = True  # FlopCounterMode then passes tensors, not shapes (tests guard this)

    def halved(stock):
        def macs(*args, out_val=None, **kwargs):
            return stock(*args, out_val=out_val, **kwargs) // 2  # stock entries count FLOPs = 2 MACs

        macs._get_raw = True  # the stock entry unwraps the tensors itself
        return macs

    mapping = {op: halved(f) for op, f in flop_registry.items()}
    mapping.update({op: conv_macs for op in _CONV_OPS})
    return mapping


def count_at(module: torch.nn.Module, height: int, width: int, channels: int = 3,
             dtype: torch.dtype = torch.float32) -> tuple[int, int, tuple[int, ...]]:
    """(MACs under the convention, true FLOPs, output shape) of one forward pass on a random
    ``1 x channels x height x width`` input in [0, 1] (on CPU)."""
    macs, flops, shape, _ = _count(module, height, width, channels, dtype)
    return macs, flops, shape


def _count(module, height, width, channels, dtype, device="cpu"):
    ids = {id(p) for p in _counted(module)}
    x = torch.rand(1, channels, height, width, dtype=dtype, generator=torch.Generator().manual_seed(0)).to(device)
    ran: list[nn.Module] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: ran.append(m)) for m in module.modules()]
    try:
        with torch.no_grad():
            with FlopCounterMode(display=False) as stock, FlopCounterMode(display=False, custom_mapping=_mapping(ids)) as conv:
                y = module(x)
    finally:
        for h in hooks:
            h.remove()
    return conv.get_total_flops(), stock.get_total_flops(), tuple(y.shape), _used_params(module, ran)


def _used_params(module, ran) -> int:
    """Parameters of the submodules that ran (CARN-M's multi-scale model skips two upsamplers)."""
    counted = {id(p) for p in _counted(module)}
    used = {id(p): p for m in ran for p in m.parameters(recurse=False) if id(p) in counted}
    return sum(p.numel() for p in used.values())


def _target(module: torch.nn.Module, channels: int, dtype: torch.dtype) -> tuple[torch.nn.Module, str]:
    """A ``meta`` copy of ``module`` when its forward runs on meta tensors (shapes only: any input size
    is instant), else the module itself on CPU (numpy or data-dependent forwards)."""
    target = meta_copy(module)
    try:
        _count(target, MAX_PROBE, MAX_PROBE, channels, dtype, "meta")
        return target, "meta"
    except Exception as exc:  # noqa: BLE001 - any op that needs real values; the CPU run decides
        log.debug("Mult-Adds: meta run failed (%s: %s); counting on real tensors", type(exc).__name__, exc)
        return module, "cpu"


def count_ops(module: torch.nn.Module, height, width, channels: int = 3, dtype: torch.dtype = torch.float32,
              probe: int = _PROBE) -> dict:
    """MACs and true FLOPs for an input of ``height x width`` (may be fractional, e.g. Fraction(1280, 3)).

    Counted at probes (p|2p) x (p|2p) and fitted exactly as a*h*w + b*h + c*w + d per quantity, or
    directly at the size (floored to whole pixels) when that is not exact (``counted_at``: the size
    counted; see :func:`srbench.cost.counting.fit_at_size`). ``per_pixel`` is True when b = c = d = 0 (every
    op scales with the pixel count).
    """
    full = {}
    target, device = _target(module, channels, dtype)

    def macs_flops(h, w):
        full[(h, w)] = _count(target, h, w, channels, dtype, device)
        return full[(h, w)][:2]

    fit = fit_at_size(macs_flops, height, width, probe, direct=device == "meta")
    (macs, flops_true), (h0, w0) = fit.counts, fit.counted_at or min(full)
    out_shape = full[(h0, w0)][2]
    return {
        "macs": macs,
        "flops_true": flops_true,
        "out_per_in": (Fraction(out_shape[-2], h0), Fraction(out_shape[-1], w0)),
        "per_pixel": fit.per_pixel,
        "counted_at": fit.counted_at,
        "params_used": full[(h0, w0)][3],
    }


def _fmt_len(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):.2f}"


def weight_bytes(params: int) -> dict:
    """Bytes the weights take at each storage precision (fp32, fp16, int8)."""
    return {k: params * v for k, v in BYTES_PER_WEIGHT.items()}


def build_for_counting(card, scale: int) -> torch.nn.Module:
    """The randomly initialised module of ``card`` at ``scale``, straight from its builder (so
    ``requires_grad`` is as the port set it); never touches weights or the network. Architecture-only
    scales (no released weights) are accepted."""
    from srbench.models.builder import call_builder

    card.check_scale(scale, arch_only_ok=True)
    return call_builder(card, scale, pretrained=False).eval()


def _published(card, scale: int, convention: str) -> tuple:
    """(params, params as the paper states them, Mult-Adds in G, Mult-Adds as the paper states them)
    for this card/scale/convention, from ``card.complexity``.

    Accepted shapes: ``params`` / ``params_paper`` / ``mult_adds_g`` / ``mult_adds_paper_g`` as a value
    or a table keyed ``x2``..., and
    ``mult_adds_convention`` (default ``hr720``) naming the convention of the published figure.
    """
    c = card.complexity or {}

    def pick(v):
        if isinstance(v, dict):
            v = v.get(f"x{scale}", v.get(str(scale)))
        return v

    macs, macs_paper = pick(c.get("mult_adds_g")), pick(c.get("mult_adds_paper_g"))
    pub_conv = c.get("mult_adds_convention", "hr720")
    same_input = scale == 2 and not card.same_size and {pub_conv, convention} <= {"hr720", "lr480"}
    if pub_conv != convention and not same_input:  # at x2, 640x360 and 480x480 are both 230,400 px
        macs = macs_paper = None
    return pick(c.get("params")), pick(c.get("params_paper")), macs, macs_paper


def profile(card, scale: int, convention: str = "hr720", mults_adds: bool = False) -> dict:
    """Parameters, Mult-Adds and true FLOPs (conventions ``hr720``, ``lr480``) or the NTIRE challenge
    figures (``ntire2022``, ``ntire2024``) of ``card`` at ``scale``, with the published figures from
    ``card.complexity`` beside them, and weight bytes per precision. ``mults_adds`` adds
    multiplications and additions counted separately (srbench/cost/mults_adds.py) at the same input.
    JSON-serialisable."""
    if convention not in CONVENTIONS:
        raise SrbenchError(f"unknown convention '{convention}': use " + ", ".join(CONVENTIONS))
    model = build_for_counting(card, scale)
    if convention in NTIRE_CONVENTIONS:
        doc = _profile_ntire(card, scale, convention, model)
    else:
        doc = _profile_macs(card, scale, convention, model)
    doc["weight_bytes"] = weight_bytes(doc["params"])
    if scale in card.arch_only_scales and scale not in card.scales:
        doc["notes"] = "; ".join(filter(None, [doc["notes"], f"x{scale} is architecture-only (no released weights)"]))
    if mults_adds:
        from srbench.cost.mults_adds import RULE, count_mults_adds

        ops = count_mults_adds(model, *input_size(card, scale, convention), doc["input_channels"], _dtype(model))
        doc.update(mults=ops["mults"], adds=ops["adds"], mults_g=ops["mults"] / 1e9, adds_g=ops["adds"] / 1e9,
                   mults_adds_rule=RULE)
        if ops["unsplit_ops"]:
            doc["notes"] = "; ".join(filter(None, [doc["notes"], "not split into mults/adds: " + ", ".join(ops["unsplit_ops"])]))
    return doc


def card_complexity(card, scale: int) -> dict:
    """The complexity block of a result: the hr720 profile and, for a network, the NTIRE 2022
    challenge's figures (256x256 LR input) under ``ntire2022``."""
    doc = profile(card, scale, convention="hr720")
    if doc["params"]:
        ntire = profile(card, scale, convention="ntire2022")
        doc["ntire2022"] = {k: ntire[k] for k in ("params", "flops_g", "activations_m", "convs")}
    return doc


def input_size(card, scale: int, convention: str) -> tuple[Fraction, Fraction]:
    """(height, width) of the model input under ``convention`` (fractional for hr720 at x3)."""
    if convention in NTIRE_CONVENTIONS:
        from srbench.cost.ntire import NTIRE_INPUT

        return Fraction(NTIRE_INPUT[0]), Fraction(NTIRE_INPUT[1])
    if card.same_size:
        # The model restores an image at its own size: at 720p its input *is* the 1280x720 image.
        return tuple(Fraction(v) for v in (HR720 if convention == "hr720" else LR480))
    if convention == "hr720":
        return Fraction(HR720[0], scale), Fraction(HR720[1], scale)
    return Fraction(LR480[0]), Fraction(LR480[1])


def _dtype(model) -> torch.dtype:
    return torch.float64 if getattr(model, "wants_float64", False) else torch.float32


def _profile_ntire(card, scale: int, convention: str, model) -> dict:
    from srbench.cost.ntire import (
        ACTIVATIONS_RULE,
        FLOPS_RULE_2022,
        FLOPS_RULE_2024,
        NTIRE_INPUT,
        PARAMS_RULE,
        fvcore_flops,
        ntire2022_counts,
        ntire_input,
    )

    channels = 1 if card.colour == "y" else 3
    x = ntire_input(model, channels)
    counts = ntire2022_counts(model, x)
    notes = list(counts["notes"])
    if channels == 1:
        notes.append("Y-only model: the 256x256 input has 1 channel")
    flops, rule = counts["flops"], FLOPS_RULE_2022
    if convention == "ntire2024":
        flops, skipped = fvcore_flops(model, x)
        rule = FLOPS_RULE_2024
        if skipped:
            notes.append("fvcore skipped (0 FLOPs): " + ", ".join(f"{op} x{n}" for op, n in sorted(skipped.items())))
    h, w = NTIRE_INPUT
    out = counts["output_shape"]
    return {
        "model": card.name,
        "scale": scale,
        "convention": convention,
        "convention_description": CONVENTIONS[convention],
        "input": f"{w}x{h}",
        "input_pixels": h * w,
        "input_channels": channels,
        "output": f"{out[-1]}x{out[-2]}",
        "params": counts["params"],
        "params_rule": PARAMS_RULE,
        "flops": flops,
        "flops_g": flops / 1e9,
        "flops_rule": rule,
        "activations": counts["activations"],
        "activations_m": counts["activations"] / 1e6,
        "activations_rule": ACTIVATIONS_RULE,
        "convs": counts["convs"],
        "published": (card.complexity or {}).get(convention),
        "notes": "; ".join(notes),
    }


def _profile_macs(card, scale: int, convention: str, model) -> dict:
    channels = 1 if card.colour == "y" else 3
    h, w = input_size(card, scale, convention)
    ops = count_ops(model, h, w, channels, _dtype(model))
    ry, rx = ops["out_per_in"]
    expected = (1, 1) if card.same_size else (scale, scale)
    if (ry, rx) != expected:
        raise SrbenchError(f"model '{card.name}' x{scale}: output is {ry}x{rx} the input size, expected {expected[0]}x")
    params = count_params(model)
    pub_params, paper_params, pub_macs, paper_macs = _published(card, scale, convention)
    notes = []
    if params == 0:
        notes.append("no learnable parameters: not a network; work done outside torch (numpy) is not counted, "
                     "true FLOPs n/a")
    if ops["params_used"] != params:
        notes.append(f"the forward pass at x{scale} uses {ops['params_used']:,} of the {params:,} parameters "
                     "(the others are not used at this scale, e.g. other scales' upsamplers)")
    if ops["counted_at"] is not None:
        ch, cw = ops["counted_at"]
        notes.append(f"counted directly on a {cw}x{ch} input: the counts are not bilinear in the input size "
                     "(strided convs or pools without padding floor their output sizes)"
                     + ("" if (ch, cw) == (h, w) else f"; {_fmt_len(w)}x{_fmt_len(h)} floored to whole pixels"))
        h, w = Fraction(ch), Fraction(cw)
    elif not ops["per_pixel"]:
        notes.append("some ops do not scale with the pixel count (e.g. channel attention on pooled features, "
                     "counted once per image); the count is exact at the input size")
    no_net = params == 0
    return {
        "model": card.name,
        "scale": scale,
        "convention": convention,
        "convention_description": CONVENTIONS[convention],
        "input": f"{_fmt_len(w)}x{_fmt_len(h)}",
        "input_pixels": round(h * w),
        "input_channels": channels,
        "output": f"{_fmt_len(w * rx)}x{_fmt_len(h * ry)}",
        "params": params,
        "params_weights_only": count_weights(model),
        "params_used": ops["params_used"],
        "params_published": pub_params,
        "params_paper": paper_params,
        "macs": ops["macs"],
        "macs_g": ops["macs"] / 1e9,
        "macs_published_g": pub_macs,
        "macs_paper_g": paper_macs,
        "macs_rule": MACS_RULE,
        "flops_true": None if no_net else ops["flops_true"],
        "flops_true_g": None if no_net else ops["flops_true"] / 1e9,
        "flops_true_rule": FLOPS_RULE,
        "notes": "; ".join(notes),
    }


def profile_module(module: torch.nn.Module, scale: int, io, convention: str = "hr720") -> dict:
    """Params and Mult-Adds of a user's torch module (``io``: its I/O convention) under ``convention``."""
    if convention not in CONVENTIONS:
        raise SrbenchError(f"unknown convention '{convention}': use " + " or ".join(CONVENTIONS))
    model = copy.deepcopy(module).eval().cpu().float()
    channels = 1 if io.colour == "y" else 3
    if io.same_size:
        h, w = (Fraction(v) for v in (HR720 if convention == "hr720" else LR480))
    elif convention == "hr720":
        h, w = Fraction(HR720[0], scale), Fraction(HR720[1], scale)
    else:
        h, w = (Fraction(v) for v in LR480)
    ops = count_ops(model, h, w, channels)
    return {"convention": convention, "input": f"{_fmt_len(w)}x{_fmt_len(h)}", "params": count_params(model),
            "macs": ops["macs"], "macs_g": ops["macs"] / 1e9, "flops_true_g": ops["flops_true"] / 1e9,
            "macs_rule": MACS_RULE}


__all__ = ["CONVENTIONS", "NTIRE_CONVENTIONS", "count_params", "count_weights", "count_at", "count_ops", "fit_at_size",
           "meta_copy", "weight_bytes", "build_for_counting", "card_complexity", "input_size", "profile", "profile_module"]
