"""Post-training static int8 quantisation of a zoo model (CPU), calibrated on LR images.

Route: torch.ao FX graph mode (``prepare_fx`` / ``convert_fx`` with ``get_default_qconfig_mapping``).
torch 2.14.1 still ships it (deprecated in favour of torchao's PT2E, which srbench does not depend
on; torch's own ``torch.ao.quantization.quantize_pt2e`` is gone). How is a named recipe
(:mod:`srbench.deploy.int8_recipes`): backend, activation observer (min-max, percentile, histogram/MSE; uint8
per tensor), 7- or 8-bit activations, int8 weights per output channel or per tensor, optional
empirical bias correction. No quantisation-aware training.

What stays in float, and why, is decided here and written into the recipe, never silently:
- ops torch.ao has no int8 kernel for (``pow``, ``sub``, ...: IMDN's standard-deviation pooling)
  run in fp32 between a dequantize and a quantize;
- layers whose int8 kernel disagrees with its own int8 arithmetic on the calibration data (an audit
  of every int8 layer after conversion; in torch 2.14.1 ``quantized::prelu`` with a slope below 1
  also scales positive inputs) are put back in float and the model is quantised again;
- work a model does outside its learnt network stays float: FALSR's PIL chroma upsampling and fixed
  colour transform (only the Y network is quantised), IMDN-AS's input size check; a model with no
  learnable layer (the bicubic baseline) cannot be quantised at all.
Replicate-padded convolutions (FSRCNN) become an int8 border replication (slices and a
concatenation sharing one scale: exact) followed by an unpadded int8 convolution, and so does a
symmetric ``F.pad(..., mode="replicate")`` (FSRCNN's deconvolution input); ``torch.split``
becomes ``torch.narrow`` (same values; split would dequantize and requantize every piece).
A finished int8 model is compared with the float one on the calibration inputs; below
``MIN_AGREEMENT_DB`` the quantisation is refused rather than scored.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import operator
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.ao.quantization.observer import MinMaxObserver

from srbench.deploy.int8_recipes import Int8Recipe, default_recipe, get_recipe
from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

BACKENDS = ("x86", "qnnpack")
# A sound int8 kernel matches its own arithmetic (the float layer with the int8 weights, on the same
# dequantised input, quantised to the same output scale) to one output step (rounding): every int8
# layer of the zoo does, except torch 2.14.1's PReLU with a slope below 1 (5 to 255 steps off).
AUDIT_MAX_STEPS = 2
AUDIT_MAX_PASSES = 3
# int8 output vs float output on the calibration inputs (PSNR, peak 1): the zoo's int8 models agree
# to 33-41 dB; a figure this low means a broken quantisation, whose scores must not be published.
MIN_AGREEMENT_DB = 25.0
OP_WHY = "no int8 kernel in torch.ao: runs in fp32 between dequantize and quantize"


class ReplicatePad2d(nn.Module):
    """Border replication written with ``narrow`` and ``cat``, which torch.ao runs on int8 tensors
    with the input's scale (``nn.ReplicationPad2d`` has no quantised kernel)."""

    def __init__(self, pad_h: int, pad_w: int):
        super().__init__()
        self.pad = (pad_h, pad_w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dim, p in zip((2, 3), self.pad):
            if p:
                first, last = torch.narrow(x, dim, 0, 1), torch.narrow(x, dim, -1, 1)
                x = torch.cat([first] * p + [x] + [last] * p, dim=dim)
        return x


class KeptFloat(nn.Module):
    """A layer left in float, wrapped in a class torch.ao neither traces into nor lowers (with a plain
    ``qconfig=None`` torch 2.14.1 still lowers a float PReLU that sits between dequantize and
    quantize, and fails)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


SCALAR_WHY = "torch 2.14.1's int8 tensor-scalar ops keep the input's scale (x * 255 of an image saturates): fp32"


class ScalarOp(nn.Module):
    """``x (op) c`` for a Python number ``c``, kept in float (see ``SCALAR_WHY``)."""

    def __init__(self, op: Callable, constant: float, tensor_first: bool):
        super().__init__()
        self.op, self.constant, self.tensor_first = op, constant, tensor_first

    def forward(self, x):
        return self.op(x, self.constant) if self.tensor_first else self.op(self.constant, x)

    def describe(self) -> str:
        return f"{getattr(self.op, '__name__', self.op)} by a constant"


class _Core(nn.Module):
    """The traceable network of a model: ``fn(model, x)``, with ``model`` as the submodule."""

    def __init__(self, model: nn.Module, fn: Callable):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, x):
        return self.fn(self.model, x)


@dataclass
class _Parts:
    """A model cut into float work before the network, the network, and float work after it."""

    core: _Core
    before: Callable[[torch.Tensor], tuple[torch.Tensor, Any]] | None = None  # x -> (net input, context)
    after: Callable[[torch.Tensor, Any], torch.Tensor] | None = None  # (net output, context) -> output
    float_work: str | None = None


class QuantizedSR(nn.Module):
    """An int8 SR model with the zoo contract: float N x C x h x w in [0, 1] -> float output, on the
    CPU. The quantised engine of the recipe's backend is selected for each call and restored."""

    def __init__(self, net: fx.GraphModule, parts: _Parts, recipe: dict):
        super().__init__()
        self.net = net
        self._before, self._after = parts.before, parts.after
        self.recipe = recipe

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32 or x.device.type != "cpu":
            raise SrbenchError("an int8 model runs on the CPU with float32 input; use --device cpu --precision fp32")
        with _quiet(), _engine(self.recipe["backend"]), torch.no_grad():
            return _run(self.net, self._before, self._after, x)


def _run(net, before, after, x: torch.Tensor) -> torch.Tensor:
    inp, context = before(x) if before is not None else (x, None)
    out = net(inp)
    return after(out, context) if after is not None else out


@contextlib.contextmanager
def _engine(backend: str):
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = backend
    try:
        yield
    finally:
        torch.backends.quantized.engine = old


@contextlib.contextmanager
def _quiet():
    # torch.ao announces its deprecation (and reduce_range's) on every call; the recipe records the route.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=".*reduce_range will be deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        # quantized::cat requantizes inputs whose scales differ (IMDN-RTC's distillation concat):
        # one more rounding, covered by the agreement check, not the "large inaccuracy" it warns of.
        warnings.filterwarnings("ignore", message=".*All inputs of this cat operator must share.*")
        yield


def _call(module: nn.Module, x):
    return module(x)


def _parts(model: nn.Module) -> _Parts:
    from srbench.models.falsr import FALSR
    from srbench.models.imdn import IMDN, IMDN_AS

    if not any(True for _ in model.parameters()):
        raise SrbenchError(f"{type(model).__name__} cannot be quantised: it has no learnable layer "
                           "(the bicubic baseline is MATLAB imresize in numpy)")
    if isinstance(model, FALSR):
        return _Parts(_Core(model, FALSR.forward_y), before=model.inputs, after=model.colour,
                      float_work="FALSR colour pipeline: YPbPr split and PIL bicubic chroma upsampling (numpy/PIL, "
                                 "outside torch) before the Y network, the fixed YPbPr->RGB transform and clip after it")
    if isinstance(model, IMDN_AS):
        return _Parts(_Core(model, IMDN.forward), before=lambda x: (IMDN_AS.check_input(x), None),
                      float_work="IMDN-AS input size check (Python control flow on the input shape)")
    return _Parts(_Core(model, _call))


def _rewrite_for_int8(core: nn.Module) -> list[str]:
    """In place: replicate-padded convs -> ReplicatePad2d + unpadded conv; no in-place activations
    (the int8 kernels have none). Returns the names of convs whose padding has no int8 form."""
    unsupported = []
    for parent_name, parent in list(core.named_modules()):
        for name, child in list(parent.named_children()):
            if hasattr(child, "inplace"):
                child.inplace = False
            if isinstance(child, nn.Conv2d) and child.padding_mode != "zeros":
                if child.padding_mode != "replicate" or isinstance(child.padding, str):
                    unsupported.append(f"{parent_name}.{name}" if parent_name else name)
                    continue
                conv = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, 0,
                                 child.dilation, child.groups, child.bias is not None)
                conv.load_state_dict(child.state_dict())
                setattr(parent, name, nn.Sequential(ReplicatePad2d(*child.padding), conv))
    return unsupported


def _fake_int8_weight(w: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """``w`` rounded as torch.ao's symmetric int8 weight observers round it (scale max|w| / 127.5)."""
    peak = w.abs().amax(dim=tuple(range(1, w.ndim)), keepdim=True) if per_channel else w.abs().max()
    scale = torch.clamp(peak / ((127 + 128) / 2), min=torch.finfo(torch.float32).eps)
    return torch.clamp(torch.round(w / scale), -128, 127) * scale


def _correct_bias(core: nn.Module, calib: list, per_channel: bool) -> int:
    """Empirical bias correction, in place, in execution order: each biased ``nn.Conv2d`` gets the mean
    (over the calibration inputs, per output channel) of what its int8-rounded weights lose against its
    float weights on its actual input, with the convolutions before it already corrected. Returns how
    many convolutions were corrected."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: order.append(mod) if mod not in order else None)
             for m in core.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    core(calib[0])
    for h in hooks:
        h.remove()
    for conv in order:
        seen: list[torch.Tensor] = []
        hook = conv.register_forward_pre_hook(lambda mod, args, seen=seen: seen.append(args[0]))
        for x in calib:
            core(x)
        hook.remove()
        w = conv.weight.data.clone()
        fake = _fake_int8_weight(w, per_channel)
        shift = torch.zeros_like(conv.bias.data, dtype=torch.float64)
        count = 0
        for inp in seen:
            conv.weight.data = w
            out = conv(inp)
            conv.weight.data = fake
            shift += (out - conv(inp)).double().sum(dim=(0, 2, 3))
            count += out.shape[0] * out.shape[2] * out.shape[3]
        conv.weight.data = w
        conv.bias.data += (shift / count).to(conv.bias.dtype)
    return len(order)


def _trace(core: nn.Module, what: str) -> fx.GraphModule:
    try:
        gm = fx.symbolic_trace(core)
    except Exception as exc:  # noqa: BLE001 - TraceError, TypeError, ...: any failure means "not traceable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrbenchError(f"{what} cannot be quantised: its forward is not traceable by torch.fx ({first})") from None
    _split_to_narrow(gm)
    _conv_args_in_full(gm)
    _scalar_ops_to_float(gm)
    _replicate_pads_to_int8(gm)
    return gm


def _replicate_pads_to_int8(gm: fx.GraphModule) -> None:
    """``F.pad(x, (l, l, t, t), mode="replicate")`` -> :class:`ReplicatePad2d` (FSRCNN's deconv input)."""
    for k, node in enumerate(list(gm.graph.nodes)):
        if node.op != "call_function" or node.target is not torch.nn.functional.pad:
            continue
        args = dict(zip(("input", "pad", "mode", "value"), node.args), **node.kwargs)
        pad = args.get("pad")
        if (args.get("mode") != "replicate" or not isinstance(pad, (tuple, list)) or len(pad) != 4
                or pad[0] != pad[1] or pad[2] != pad[3]):
            continue
        name = f"replicate_pad_{k}"
        gm.add_submodule(name, ReplicatePad2d(pad[2], pad[0]))
        with gm.graph.inserting_before(node):
            new = gm.graph.call_module(name, (args["input"],))
        new.meta = dict(node.meta)
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.recompile()


SCALAR_OPS = (operator.mul, operator.truediv, operator.add, operator.sub, torch.mul, torch.div, torch.add, torch.sub)


def _scalar_ops_to_float(gm: fx.GraphModule) -> None:
    """Tensor-scalar arithmetic -> :class:`ScalarOp` modules (left in float)."""
    for k, node in enumerate(list(gm.graph.nodes)):
        if node.op != "call_function" or node.target not in SCALAR_OPS or len(node.args) != 2 or node.kwargs:
            continue
        a, b = node.args
        if isinstance(a, fx.Node) and isinstance(b, (int, float)):
            module, tensor = ScalarOp(node.target, b, True), a
        elif isinstance(b, fx.Node) and isinstance(a, (int, float)):
            module, tensor = ScalarOp(node.target, a, False), b
        else:
            continue
        name = f"scalar_op_{k}"
        gm.add_submodule(name, module)
        with gm.graph.inserting_before(node):
            new = gm.graph.call_module(name, (tensor,))
        new.meta = dict(node.meta)
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.recompile()


def _split_to_narrow(gm: fx.GraphModule) -> None:
    """``torch.split(x, sizes, dim)[i]`` -> ``torch.narrow(x, dim, start_i, size_i)``."""
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in (torch.split, torch.functional.split):
            continue
        src, sizes = node.args[0], node.args[1]
        dim = node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0)
        if not isinstance(sizes, (list, tuple)) or not all(u.target is operator.getitem for u in node.users):
            continue
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        for use in list(node.users):
            i = use.args[1]
            with gm.graph.inserting_before(use):
                narrow = gm.graph.call_function(torch.narrow, (src, dim, starts[i], sizes[i]))
            use.replace_all_uses_with(narrow)
            gm.graph.erase_node(use)
        gm.graph.erase_node(node)
    gm.recompile()


CONV2D_DEFAULTS = (("bias", None), ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))


def _conv_args_in_full(gm: fx.GraphModule) -> None:
    """``F.conv2d(x, w, b)`` -> every argument spelled out, stride/padding/dilation as pairs: torch
    2.14.1's lowering of a functional conv reads them from the call and fails on defaults or ints."""
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in (torch.nn.functional.conv2d, torch.conv2d):
            args = list(node.args)
            for i, (name, default) in enumerate(CONV2D_DEFAULTS, start=2):
                if len(args) <= i:
                    args.append(node.kwargs.get(name, default))
                if name in ("stride", "padding", "dilation") and isinstance(args[i], int):
                    args[i] = (args[i], args[i])
            node.args, node.kwargs = tuple(args), {}
    gm.recompile()


class PercentileObserver(MinMaxObserver):
    """Per-tensor range from the ``percentile``-th and (100 - ``percentile``)-th percentiles of each
    observed batch, averaged over the batches (outliers clipped; deterministic: a fixed stride picks at
    most ``MAX_SAMPLES`` values of a large batch)."""

    MAX_SAMPLES = 1 << 20

    def __init__(self, percentile: float = 99.99, **kwargs):
        super().__init__(**kwargs)
        self.percentile = percentile
        self.register_buffer("batches", torch.tensor(0))

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().flatten().float()
        x = x[::max(1, x.numel() // self.MAX_SAMPLES)]
        q = torch.tensor([1 - self.percentile / 100, self.percentile / 100], dtype=x.dtype)
        low, high = torch.quantile(x, q)
        n = int(self.batches)
        if n == 0:
            self.min_val.copy_(low)
            self.max_val.copy_(high)
        else:
            self.min_val.copy_((self.min_val * n + low) / (n + 1))
            self.max_val.copy_((self.max_val * n + high) / (n + 1))
        self.batches += 1
        return x_orig


def _activation_observer(recipe: Int8Recipe):
    from torch.ao.quantization.observer import HistogramObserver

    common = {"dtype": torch.quint8, "qscheme": torch.per_tensor_affine, "reduce_range": recipe.reduce_range}
    if recipe.activation_observer == "minmax":
        return MinMaxObserver.with_args(**common)
    if recipe.activation_observer == "percentile":
        return PercentileObserver.with_args(percentile=recipe.percentile, **common)
    return HistogramObserver.with_args(**common)


def _qconfig_mapping(recipe: Int8Recipe):
    """torch.ao's default mapping for the recipe's backend, with the recipe's activation observer
    (for every op whose output range torch.ao does not fix, e.g. sigmoid's) and int8 symmetric
    weights per output channel or per tensor as asked (transposed convs stay per tensor: torch.ao
    has no per-channel int8 deconv)."""
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import (
        FixedQParamsObserver,
        ReuseInputObserver,
        default_per_channel_weight_observer,
        default_weight_observer,
    )

    qmap = get_default_qconfig_mapping(recipe.backend)
    activation = _activation_observer(recipe)
    for kind, qconfig in list(qmap.object_type_qconfigs.items()):
        if qconfig is None:
            continue
        cls = getattr(qconfig.activation, "p", None)
        cls = getattr(cls, "func", None) or qconfig.activation
        if isinstance(cls, type) and issubclass(cls, (FixedQParamsObserver, ReuseInputObserver)):
            continue
        qmap.set_object_type(kind, QConfig(activation=activation, weight=qconfig.weight))
    weight = default_per_channel_weight_observer if recipe.per_channel else default_weight_observer
    return qmap.set_global(QConfig(activation=activation, weight=weight))


def _called_layers(gm: fx.GraphModule, name: str) -> list[str]:
    """The modules the graph calls that are ``name`` or inside it."""
    return [n.target for n in gm.graph.nodes
            if n.op == "call_module" and (n.target == name or n.target.startswith(name + "."))]


def _with_float_layers(gm: fx.GraphModule, names) -> fx.GraphModule:
    """A copy of ``gm`` whose layers in ``names`` (or inside them) are wrapped in :class:`KeptFloat`."""
    gm = copy.deepcopy(gm)
    for name in names:
        for target in _called_layers(gm, name):
            parent_name, _, attr = target.rpartition(".")
            parent = gm.get_submodule(parent_name)
            setattr(parent, attr, KeptFloat(getattr(parent, attr)))
    gm.recompile()
    return gm


def _is_int8_module(module: nn.Module) -> bool:
    return type(module).__module__.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized"))


def _with_int8_weight(float_module: nn.Module, int8_module: nn.Module) -> nn.Module:
    """A copy of ``float_module`` carrying ``int8_module``'s weight, dequantised."""
    twin = copy.deepcopy(float_module)
    w = getattr(int8_module, "weight", None)
    w = w() if callable(w) else w
    if isinstance(w, torch.Tensor) and w.is_quantized:
        for sub in twin.modules():
            if isinstance(getattr(sub, "weight", None), nn.Parameter):
                sub.weight.data = w.dequantize().reshape(sub.weight.shape)
                break
    return twin


class _Audit(fx.Interpreter):
    """Runs the converted network; checks each int8 module against its own arithmetic (its float twin
    in the prepared model, with the int8 weights, on the same dequantised input, quantised to the
    module's output scale) and notes the ops that ran in float."""

    def __init__(self, converted: fx.GraphModule, floats: dict):
        super().__init__(converted)
        self.floats = floats
        self.steps: dict[str, int] = {}  # module -> largest difference, in output steps
        self.float_ops: list[fx.Node] = []

    def call_module(self, target, args, kwargs):
        out = super().call_module(target, args, kwargs)
        module = self.fetch_attr(target)
        if _is_int8_module(module) and isinstance(out, torch.Tensor) and out.is_quantized and target in self.floats:
            twin = _with_int8_weight(self.floats[target], module)
            ref = twin(*(a.dequantize() if isinstance(a, torch.Tensor) and a.is_quantized else a for a in args))
            ref = torch.quantize_per_tensor(ref, out.q_scale(), out.q_zero_point(), out.dtype)
            worst = int((out.int_repr().int() - ref.int_repr().int()).abs().max())
            self.steps[target] = max(worst, self.steps.get(target, 0))
        return out

    def run_node(self, n):
        out = super().run_node(n)
        if (n.op in ("call_function", "call_method", "call_module") and isinstance(out, torch.Tensor)
                and n not in self.float_ops
                and not out.is_quantized and n.target not in ("dequantize", torch.quantize_per_tensor)):
            self.float_ops.append(n)
        return out


def _quantize_once(gm: fx.GraphModule, calib: list, recipe: Int8Recipe, float_layers) -> tuple:
    from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    custom = PrepareCustomConfig().set_non_traceable_module_classes([KeptFloat, ScalarOp])
    prepared = prepare_fx(_with_float_layers(gm, float_layers), _qconfig_mapping(recipe),
                          (calib[0],), prepare_custom_config=custom)
    for x in calib:
        prepared(x)
    floats = dict(copy.deepcopy(prepared).named_modules())
    converted = convert_fx(prepared)
    audit = _Audit(converted, floats)
    for x in calib:
        audit.run(x)
    return converted, audit


def quantize_int8(model: nn.Module, calibration_inputs: list[torch.Tensor], *,
                  recipe: str | Int8Recipe | None = None,
                  keep_float: tuple[str, ...] = ()) -> tuple[QuantizedSR, dict]:
    """Post-training static int8 quantisation of a zoo module, calibrated on ``calibration_inputs``.

    ``calibration_inputs``: LR tensors in the model's input convention (N x C x h x w, [0, 1]) from a
    set that is not the one evaluated. ``recipe``: a name of :data:`srbench.deploy.int8_recipes.RECIPES` or an
    :class:`~srbench.deploy.int8_recipes.Int8Recipe` (default: the measured default for this CPU).
    ``keep_float``: module names (as in ``model.named_modules()``)
    to leave in float on purpose. Returns the int8 module (the zoo call contract, CPU, float32 I/O)
    and its recipe (also ``qmodel.recipe``). ``model`` itself is not modified.
    """
    spec = recipe if isinstance(recipe, Int8Recipe) else get_recipe(recipe or default_recipe())
    backend = spec.backend
    if backend not in BACKENDS:
        raise SrbenchError(f"unknown quantisation backend '{backend}'; use one of {', '.join(BACKENDS)}")
    if backend not in torch.backends.quantized.supported_engines:
        raise SrbenchError(f"this torch build has no '{backend}' quantised engine "
                           f"(it has {', '.join(torch.backends.quantized.supported_engines)})")
    if not calibration_inputs:
        raise SrbenchError("int8 quantisation needs calibration inputs (LR images of a calibration set)")
    what = type(model).__name__
    model = copy.deepcopy(model).float().cpu().eval()
    unknown = [n for n in keep_float if n not in dict(model.named_modules()) or not n]
    if unknown:
        raise SrbenchError(f"keep_float names {', '.join(map(repr, unknown))}, which are not layers of {what}")
    parts = _parts(model)
    reference = copy.deepcopy(parts)  # float, untouched by the int8 rewrites below
    unsupported = _rewrite_for_int8(parts.core)
    inputs = [x.float().cpu() for x in calibration_inputs]
    with torch.no_grad():
        calib = [parts.before(x)[0] if parts.before is not None else x for x in inputs]
        corrected = _correct_bias(parts.core, calib, spec.per_channel) if spec.bias_correction else 0
    gm = _trace(parts.core, what)
    idle = [n for n in keep_float if not _called_layers(gm, f"model.{n}")]
    if idle:
        raise SrbenchError(f"keep_float names {', '.join(map(repr, idle))}, which hold no layer of {what}'s graph")

    float_layers = {f"model.{n}": "kept in float by the caller" for n in keep_float}
    float_layers.update({n: "padding mode with no int8 convolution" for n in unsupported})
    try:
        converted, agreement, recipe = _calibrate_and_convert(gm, calib, spec, float_layers, reference, parts,
                                                              inputs, what)
    except (NotImplementedError, RuntimeError) as exc:  # an op with no int8 kernel (F.interpolate, ...)
        first = str(exc).strip().split(". ")[0].splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrbenchError(f"{what} cannot be quantised to int8 with torch.ao: {first}; "
                           "evaluate it in fp32") from None
    if agreement["psnr_db_min"] < MIN_AGREEMENT_DB:
        raise SrbenchError(f"{what}: the int8 model agrees with the float one to only {agreement['psnr_db_min']:.1f} dB "
                           f"on the calibration inputs (< {MIN_AGREEMENT_DB} dB): a failed quantisation, not a score")
    recipe["bias_corrected_convs"] = corrected
    return QuantizedSR(converted, parts, recipe), recipe


def _calibrate_and_convert(gm, calib, spec, float_layers, reference, parts, inputs, what):
    """Convert, audit each int8 layer (keeping in float the ones whose kernel is off), measure agreement."""
    with _quiet(), _engine(spec.backend), torch.no_grad():
        for _ in range(AUDIT_MAX_PASSES):
            converted, audit = _quantize_once(gm, calib, spec, float_layers)
            broken = {n: worst for n, worst in audit.steps.items() if worst > AUDIT_MAX_STEPS}
            if not broken:
                break
            for n, worst in broken.items():
                float_layers[n] = (f"torch {torch.__version__}'s int8 {type(converted.get_submodule(n)).__name__} "
                                   f"kernel is up to {worst} output steps off int8 arithmetic on the calibration data")
        else:
            raise SrbenchError(f"{what}: int8 layers still disagree with their arithmetic after {AUDIT_MAX_PASSES} "
                               f"passes ({', '.join(broken)}); quantisation gave up")
        agreement = _agreement(reference, converted, parts, inputs)
        recipe = _recipe(gm, converted, audit, spec, inputs, float_layers, parts, agreement)
    return converted, agreement, recipe


def _agreement(reference: _Parts, converted, parts: _Parts, inputs) -> dict:
    """PSNR (peak 1) and max abs difference of int8 vs float outputs on the calibration inputs."""
    psnrs, worst = [], 0.0
    for x in inputs:
        ref = _run(reference.core, reference.before, reference.after, x)
        out = _run(converted, parts.before, parts.after, x)
        mse = float(((out - ref).double() ** 2).mean())
        psnrs.append(math.inf if mse == 0 else -10 * math.log10(mse))
        worst = max(worst, float((out - ref).abs().max()))
    return {"psnr_db_min": round(min(psnrs), 2), "psnr_db_mean": round(sum(psnrs) / len(psnrs), 2),
            "max_abs_diff": round(worst, 4)}


def _op_name(node: fx.Node, gm: fx.GraphModule) -> str:
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        return module.describe() if isinstance(module, ScalarOp) else type(module).__name__
    return node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))


def _scope(node: fx.Node | None) -> str:
    """The module a traced node came from, as named in the model (without the core's ``model.``)."""
    stack = node.meta.get("nn_module_stack") if node is not None else None
    if not stack:
        return ""
    path = list(stack.values())[-1]
    path = path[0] if isinstance(path, tuple) else path
    return str(path).removeprefix("model").removeprefix(".")


def _observer_name(factory) -> str:
    obs = factory()
    bits = [type(obs).__name__, str(obs.dtype).removeprefix("torch."), str(obs.qscheme).removeprefix("torch.")]
    if isinstance(obs, PercentileObserver):
        bits.append(f"percentile {obs.percentile:g}")
    if getattr(obs, "reduce_range", False):
        bits.append("reduce_range (7-bit)")
    return ", ".join(bits)


def _recipe(traced, converted, audit, spec: Int8Recipe, inputs, float_layers, parts, agreement) -> dict:
    qconfig = _qconfig_mapping(spec).global_qconfig
    int8 = [type(m).__name__ for _, m in converted.named_modules()
            if _is_int8_module(m) and type(m).__name__ != "LinearPackedParams"]  # a Linear's weight holder
    traced_nodes = {n.name: n for n in traced.graph.nodes}
    ops: Counter = Counter()
    where: dict[str, set] = {}
    for node in audit.float_ops:
        if node.op == "call_module" and isinstance(converted.get_submodule(node.target), KeptFloat):
            continue  # listed under float_layers
        name = _op_name(node, converted)
        ops[name] += 1
        where.setdefault(name, set()).add(_scope(traced_nodes.get(node.name)) or "(top level)")
    return {
        "method": "post-training static quantisation, torch.ao FX graph mode (prepare_fx/convert_fx), no QAT",
        "torch": torch.__version__,
        "recipe": spec.to_dict(),
        "backend": spec.backend,
        "activation_observer": _observer_name(qconfig.activation),
        "weight_observer": _observer_name(qconfig.weight),
        "per_channel": spec.per_channel,
        "calibration_inputs": len(inputs),
        "calibration_shapes": [list(s) for s in sorted({tuple(x.shape) for x in inputs})],
        "int8_layers": len(int8),
        "int8_layer_types": dict(sorted(Counter(int8).items())),
        "float_layers": [{"name": n.removeprefix("model."), "why": why} for n, why in sorted(float_layers.items())],
        "float_ops": [{"op": op, "count": c, "where": sorted(where[op]),
                       "why": SCALAR_WHY if op.endswith("by a constant") else OP_WHY} for op, c in sorted(ops.items())],
        "float_work": parts.float_work,
        "audit": {"int8_layers_checked": len(audit.steps),
                  "max_steps_off": max(audit.steps.values(), default=0),
                  "rule": f"an int8 layer more than {AUDIT_MAX_STEPS} output steps off its own int8 arithmetic "
                          "on any calibration input is kept in float"},
        "agreement_with_fp32_on_calibration": agreement,
    }


__all__ = [
    "AUDIT_MAX_STEPS",
    "BACKENDS",
    "MIN_AGREEMENT_DB",
    "KeptFloat",
    "QuantizedSR",
    "ReplicatePad2d",
    "quantize_int8",
]
