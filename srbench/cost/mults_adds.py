"""Multiplications and additions counted separately (the ICLR 2019 efficiency study's convention).

The study (``shared/seeds/004``, Tables 4-5) reports, for ternary StrassenNets layers, the
reduction in multiplications and in additions separately. Its figures are reproduced exactly (all 24
cells of Table 5, tests/test_mults_adds.py) by these rules, applied to every convolution executed,
fixed ones included (the MeanShift convs are arithmetic the device performs):

- a convolution with ``K = Cin/groups * kh * kw`` inputs per output element costs ``K``
  multiplications and ``K - 1`` additions per output element, plus one addition for the bias;
  a transposed convolution is charged per HR output element, like srbench's Mult-Adds;
- a convolution whose module declares ``weights_ternary = True`` (weights in {-a, 0, +a}, the
  scale folded elsewhere) costs no multiplication, its additions as above;
- an element-wise product with a learned parameter tensor (StrassenNets' ``a`` vector, a channel
  scale) costs one multiplication per output element; products of two activations (channel
  attention ``x * y``), activations, skip-connection additions, concat and pixel shuffle count 0;
- matrix products (``mm``, ``addmm``, ``bmm``): ``k`` multiplications and ``k - 1`` additions per
  output element (+1 for ``addmm``'s bias).

Other ops that torch's counter knows (attention kernels) are not split; a note names them.
The count depends on shapes only: it runs on the ``meta`` device when the forward allows it (no
arithmetic), otherwise on real CPU tensors.
"""

from __future__ import annotations

import logging
import math

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry

RULE = ("every conv (fixed ones included): K = Cin/groups*kh*kw multiplications and K-1 additions per output "
        "element, +1 addition with bias; ternary-weight convs no multiplications; element-wise products with a "
        "learned parameter 1 multiplication per element; mm/addmm/bmm alike; activations and skip additions 0")

_CONV = (torch.ops.aten.convolution, torch.ops.aten._convolution)
_MM = (torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.bmm)
_MUL = (torch.ops.aten.mul, torch.ops.aten.mul_)

log = logging.getLogger(__name__)


def _is(t, ids: set[int]) -> bool:
    """``t`` is one of the tensors in ``ids`` or a view of one (dispatch sees the Parameter objects)."""
    return isinstance(t, torch.Tensor) and (id(t) in ids or (t._base is not None and id(t._base) in ids))


def _mappings(param_ids: set[int], ternary_ids: set[int], unsplit: set[str]) -> tuple[dict, dict]:
    def conv(kind):
        def count(x, w, bias, stride, padding, dilation, transposed, output_padding, groups, *rest, out_val=None, **kw):
            k = (w.shape[0] // groups if transposed else w.shape[1]) * math.prod(w.shape[2:])
            n = out_val.numel()
            if kind == "mults":
                return 0 if _is(w, ternary_ids) else k * n
            return (k - 1) * n + (n if bias is not None else 0)

        count._get_raw = True
        return count

    def mm(kind, op):
        def count(*args, out_val=None, **kw):
            a = args[-2]  # mm(a, b), bmm(a, b), addmm(bias, a, b)
            k = a.shape[-1]
            n = out_val.numel()
            if kind == "mults":
                return k * n
            return (k - 1) * n + (n if op is torch.ops.aten.addmm else 0)

        count._get_raw = True
        return count

    def mul(kind):
        def count(a, b=None, *rest, out_val=None, **kw):
            learned = _is(a, param_ids) or _is(b, param_ids)
            return out_val.numel() if kind == "mults" and learned else 0

        count._get_raw = True
        return count

    def not_split(op):
        def count(*args, out_val=None, **kw):
            unsplit.add(str(op))
            return 0

        count._get_raw = True
        return count

    maps = []
    for kind in ("mults", "adds"):
        m = {op: not_split(op) for op in flop_registry}
        m.update({op: conv(kind) for op in _CONV})
        m.update({op: mm(kind, op) for op in _MM})
        m.update({op: mul(kind) for op in _MUL})
        maps.append(m)
    return maps[0], maps[1]


def _count(module: torch.nn.Module, x: torch.Tensor) -> tuple[int, int, set[str]]:
    param_ids = {id(p) for p in module.parameters()}
    ternary_ids = {id(m.weight) for m in module.modules()
                   if getattr(m, "weights_ternary", False) and isinstance(getattr(m, "weight", None), torch.Tensor)}
    unsplit: set[str] = set()
    mults_map, adds_map = _mappings(param_ids, ternary_ids, unsplit)
    with torch.no_grad():
        with FlopCounterMode(display=False, custom_mapping=mults_map) as mults, \
                FlopCounterMode(display=False, custom_mapping=adds_map) as adds:
            module(x)
    return mults.get_total_flops(), adds.get_total_flops(), unsplit


def _input(channels, height, width, dtype, device="cpu"):
    x = torch.rand(1, channels, height, width, dtype=dtype, generator=torch.Generator().manual_seed(0))
    return x.to(device)


def _target(module: torch.nn.Module, channels: int, dtype: torch.dtype) -> tuple[torch.nn.Module, str]:
    """A meta copy of ``module`` when its forward runs on meta tensors, else the module on CPU."""
    from srbench.cost.counting import MAX_PROBE, meta_copy

    target = meta_copy(module)
    try:
        _count(target, _input(channels, MAX_PROBE, MAX_PROBE, dtype, "meta"))  # large enough for pooled blocks
        return target, "meta"
    except Exception as exc:  # noqa: BLE001 - any op that needs real values; the real run decides
        log.debug("mults/adds: meta run failed (%s: %s); counting on real tensors", type(exc).__name__, exc)
        return module, "cpu"


def count_mults_adds_at(module: torch.nn.Module, height: int, width: int, channels: int = 3,
                        dtype: torch.dtype = torch.float32) -> tuple[int, int, set[str]]:
    """(multiplications, additions, ops not split) of one forward on a random 1 x C x h x w input."""
    target, device = _target(module, channels, dtype)
    return _count(target, _input(channels, height, width, dtype, device))


def count_mults_adds(module: torch.nn.Module, height, width, channels: int = 3,
                     dtype: torch.dtype = torch.float32, probe: int | None = None) -> dict:
    """Multiplications and additions at ``height x width`` (may be fractional), fitted from probes
    like :func:`srbench.cost.complexity.count_ops`."""
    from srbench.cost.counting import fit_at_size

    target, device = _target(module, channels, dtype)
    unsplit: set[str] = set()

    def at(h, w):
        m, a, u = _count(target, _input(channels, h, w, dtype, device))
        unsplit.update(u)
        return m, a

    mults, adds = fit_at_size(at, height, width, *(() if probe is None else (probe,)), direct=device == "meta").counts
    return {"mults": mults, "adds": adds, "unsplit_ops": sorted(unsplit)}


__all__ = ["RULE", "count_mults_adds", "count_mults_adds_at"]
