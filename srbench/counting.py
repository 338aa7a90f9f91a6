"""Helpers shared by the counters (Mult-Adds, NTIRE figures, mults and adds): shape-only copies of a
module and exact fits of size-dependent counts."""

from __future__ import annotations

import copy
from fractions import Fraction

import torch
from torch import nn

PROBE = 8  # probe sizes (8|16) x (8|16): multiples of 4 (IMDN-AS) and cheap on CPU


def meta_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` on the ``meta`` device (shapes, no data, nothing cloned): for counts that
    depend on shapes only."""
    memo = {}
    for t in list(module.parameters()) + list(module.buffers()):
        meta = t.to("meta")
        memo[id(t)] = nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(module, memo)


def fit_at_size(count_fn, height, width, probe: int = PROBE) -> tuple[tuple[int, ...], bool, dict]:
    """Evaluate integer counts ``count_fn(h, w) -> (c0, c1, ...)`` at ``height x width`` (may be fractional).

    Each count is taken at probes (p|2p) x (p|2p) and fitted exactly as a*h*w + b*h + c*w + d.
    Returns (the counts at the size, per_pixel: True when b = c = d = 0 for all, the probe results).
    """
    counts = {(h, w): count_fn(h, w) for h in (probe, 2 * probe) for w in (probe, 2 * probe)}
    h0, w0, h1, w1 = probe, probe, 2 * probe, 2 * probe
    H, W = Fraction(height), Fraction(width)
    out, per_pixel = [], True
    for i in range(len(counts[(h0, w0)])):
        f00, f10, f01, f11 = (counts[k][i] for k in ((h0, w0), (h1, w0), (h0, w1), (h1, w1)))
        a = Fraction(f11 - f10 - f01 + f00, (h1 - h0) * (w1 - w0))
        b = Fraction(f10 - f00, h1 - h0) - a * w0
        c = Fraction(f01 - f00, w1 - w0) - a * h0
        d = f00 - a * h0 * w0 - b * h0 - c * w0
        per_pixel &= b == c == d == 0
        out.append(round(a * H * W + b * H + c * W + d))
    return tuple(out), per_pixel, counts
