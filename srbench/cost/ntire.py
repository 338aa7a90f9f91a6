"""The NTIRE efficient-SR challenges' complexity figures, counted as their scripts count them.

``ntire2022`` follows ``utils/model_summary.py`` of ofsoundof/NTIRE2022_ESR (the AIM 2020 counter
by Kai Zhang, itself after sovrasov/flops-counter.pytorch), run by ``test_demo.py`` on a
``1 x 3 x 256 x 256`` LR input. srbench's own implementation of what that code really counts:

- **FLOPs** are forward hooks on module instances (``isinstance``, so subclasses too), summed over
  every call of the module (a module applied three times counts three times):
  ``nn.Conv2d`` and ``nn.ConvTranspose2d``: ``kh * kw * in_channels * (out_channels // groups)`` per
  element of the *output* spatial grid (so a transposed conv is charged per HR output pixel), no bias:
  multiply-accumulates, although the challenge calls the total "FLOPs [G]".
  ``nn.Linear``: ``batch * in.shape[1] * out.shape[1]`` (``in.shape[0] * out.shape[0]`` for a 1-D
  input), no bias; for an N-D input (tokens) that is *not* the MAC count, and it is what the
  challenge prints (srbench adds a note when it happens).
  ``nn.ReLU``, ``nn.PReLU``, ``nn.ELU``, ``nn.LeakyReLU``, ``nn.ReLU6``: one per output element.
  ``nn.BatchNorm2d``: one per output element, two when ``affine``.
  Everything else counts 0: functional calls (``F.relu``, ``F.conv2d``, ``torch.sigmoid``),
  ``nn.Sigmoid``, ``nn.GELU``, ``nn.SiLU``, ``nn.Tanh``, ``nn.Conv1d``, ``nn.Conv3d`` (its hook is
  written but never attached), BatchNorm1d, pooling, pixel shuffle, interpolation, element-wise ops.
- **#Activations**: the number of output elements of every ``nn.Conv2d`` / ``nn.ConvTranspose2d``
  call. The upstream docstring and its list of "supported" classes also name Conv1d,
  ConvTranspose1d and Linear, but a hook is attached to Conv2d and ConvTranspose2d only, so those
  count 0. **#Conv2d** is the number of those calls.
- **#Params**: ``sum(p.numel() for p in model.parameters())``: every parameter, frozen ones included.

``ntire2024`` keeps the activations, #conv and params and takes FLOPs from fvcore
``FlopCountAnalysis(model, torch.rand(1, 3, 256, 256)).total()`` (one per multiply-accumulate of
the ops fvcore has handles for; fvcore skips the rest and srbench lists them in a note).

srbench's ports keep fixed transforms (MeanShift) in buffers, where the official PyTorch code has a
frozen ``nn.Conv2d``. A module class marked ``official_conv2d = True`` is counted as that Conv2d
(FLOPs, activations, #conv, and its weight and bias as parameters), so the figures are those of the
official module. Models without official PyTorch code (FSRCNN: MATLAB; FALSR: a TensorFlow graph,
whose fixed colour conv is an ``F.conv2d``) are counted as srbench's module is written.

The count depends on shapes only, so it first runs on the ``meta`` device (no arithmetic, instant);
a model whose forward needs real values (numpy, data-dependent control flow) raises there and is
then run on a real CPU tensor.
"""

from __future__ import annotations

import logging
import math
import warnings

import torch
from torch import nn

from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

NTIRE_INPUT = (256, 256)  # (height, width) of the LR input in both challenges' scripts

CONV2D = (nn.Conv2d, nn.ConvTranspose2d)
RELU_FAMILY = (nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6)

FLOPS_RULE_2022 = ("NTIRE 2022 hooks: Conv2d/ConvTranspose2d kh*kw*Cin*Cout/groups per output pixel and Linear "
                   "in*out, no bias (multiply-accumulates); +1 per element of ReLU/PReLU/ELU/LeakyReLU/ReLU6 "
                   "modules, +2 per element of affine BatchNorm2d (1 if not affine); everything else 0")
FLOPS_RULE_2024 = "fvcore FlopCountAnalysis(model, rand 1x3x256x256).total(): one per multiply-accumulate of the ops fvcore handles"
ACTIVATIONS_RULE = "output elements of every nn.Conv2d/nn.ConvTranspose2d call (Conv1d/Linear are not hooked upstream)"
PARAMS_RULE = "every parameter, frozen ones included (official fixed convs kept as buffers by srbench count too)"


def _official_conv2d(module: nn.Module) -> bool:
    return getattr(type(module), "official_conv2d", False)


def ntire_params(model: nn.Module) -> int:
    """The challenge's #Params: all parameters, plus the buffers of fixed convs that the official code
    holds as (frozen) ``nn.Conv2d`` parameters."""
    fixed = sum(b.numel() for m in model.modules() if _official_conv2d(m) for b in m.buffers(recurse=False))
    return sum(p.numel() for p in model.parameters()) + fixed


class _Tally:
    def __init__(self):
        self.flops = 0
        self.activations = 0
        self.convs = 0
        self.linear_nd = False
        self.output_shape: tuple[int, ...] = ()

    def conv(self, module, inputs, out):
        if isinstance(module, CONV2D):
            per_position = math.prod(module.kernel_size) * module.in_channels * (module.out_channels // module.groups)
        else:  # an official nn.Conv2d kept as buffers: weight (Cout, Cin, kh, kw), groups 1
            per_position = math.prod(module.weight.shape)
        self.flops += per_position * out.shape[0] * math.prod(out.shape[2:])
        self.activations += out.numel()
        self.convs += 1

    def linear(self, module, inputs, out):
        x = inputs[0]
        if x.dim() == 1:
            self.flops += x.shape[0] * out.shape[0]
        else:
            self.linear_nd |= x.dim() > 2
            self.flops += x.shape[0] * x.shape[1] * out.shape[1]

    def relu(self, module, inputs, out):
        self.flops += out.numel()

    def batchnorm(self, module, inputs, out):
        self.flops += out.numel() * (2 if module.affine else 1)


def _tally(model: nn.Module, x: torch.Tensor) -> _Tally:
    tally = _Tally()
    hooks = []
    for m in model.modules():
        if isinstance(m, CONV2D) or _official_conv2d(m):
            hooks.append(m.register_forward_hook(tally.conv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(tally.linear))
        elif isinstance(m, RELU_FAMILY):
            hooks.append(m.register_forward_hook(tally.relu))
        elif isinstance(m, nn.BatchNorm2d):
            hooks.append(m.register_forward_hook(tally.batchnorm))
    try:
        with torch.no_grad():
            tally.output_shape = tuple(model(x).shape)
    finally:
        for h in hooks:
            h.remove()
    return tally


def ntire_input(model: nn.Module, channels: int = 3, size: tuple[int, int] = NTIRE_INPUT) -> torch.Tensor:
    """A random ``1 x channels x 256 x 256`` input in [0, 1] in the model's dtype (fixed seed)."""
    dtype = torch.float64 if getattr(model, "wants_float64", False) else torch.float32
    return torch.rand(1, channels, *size, dtype=dtype, generator=torch.Generator().manual_seed(0))


def ntire2022_counts(model: nn.Module, x: torch.Tensor) -> dict:
    """FLOPs, activations, #conv and params of ``model`` on ``x`` as the NTIRE 2022 script counts them.

    Tries the ``meta`` device first (shapes only); falls back to ``x`` itself on CPU.
    """
    from srbench.cost.counting import meta_copy

    try:
        tally = _tally(meta_copy(model), x.to("meta"))
    except Exception as exc:  # noqa: BLE001 - any op that needs real values; the real run decides
        log.debug("ntire2022 count: meta run failed (%s: %s); counting on real tensors", type(exc).__name__, exc)
        tally = _tally(model, x)
    notes = []
    if tally.linear_nd:
        notes.append("an nn.Linear saw an N-D input: counted as the challenge script does (batch * in.shape[1] * "
                     "out.shape[1]), which is not its multiply-accumulate count")
    return {"params": ntire_params(model), "flops": tally.flops, "activations": tally.activations,
            "convs": tally.convs, "output_shape": tally.output_shape, "notes": notes}


def fvcore_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """(``fvcore.nn.FlopCountAnalysis(model, x).total()``, the ops fvcore skipped with their counts)."""
    with warnings.catch_warnings():
        # fvcore traces with torch.jit, which warns about its own deprecation and about traced numpy.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            from fvcore.nn import FlopCountAnalysis
        except ImportError:
            raise SrbenchError("convention ntire2024 needs fvcore: pip install 'srbench[fvcore]' "
                               "(fvcore==0.1.5.post20221221)") from None
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        with torch.no_grad():
            total = analysis.total()
        return int(total), dict(analysis.unsupported_ops())


__all__ = ["NTIRE_INPUT", "FLOPS_RULE_2022", "FLOPS_RULE_2024", "ACTIVATIONS_RULE", "PARAMS_RULE",
           "ntire_params", "ntire_input", "ntire2022_counts", "fvcore_flops"]
