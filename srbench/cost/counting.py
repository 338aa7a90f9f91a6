"""Helpers shared by the counters (Mult-Adds, NTIRE figures, mults and adds): shape-only copies of a
module and counts at a given input size, fitted exactly from small probes where that is exact."""

from __future__ import annotations

import copy
import math
from fractions import Fraction
from typing import NamedTuple

import torch
from torch import nn

from srbench.errors import SrbenchError

PROBE = 8  # probe sizes (8|16) x (8|16): multiples of 4 (IMDN-AS) and cheap on CPU
MAX_PROBE = 64  # larger probes are tried when a model rejects small inputs (ESA: a 7x7 pool after a stride-2 conv)


def meta_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` on the ``meta`` device (shapes, no data, nothing cloned): for counts that
    depend on shapes only."""
    memo = {}
    for t in list(module.parameters()) + list(module.buffers()):
        meta = t.to("meta")
        memo[id(t)] = nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(module, memo)


class SizeFit(NamedTuple):
    counts: tuple[int, ...]  # the counts at the requested size
    per_pixel: bool  # every count is a*h*w (no per-row, per-column or per-image terms)
    counted_at: tuple[int, int] | None  # None: fitted exactly from probes; else the (h, w) counted directly
    results: dict  # count_fn's return value by (h, w), every size evaluated


def fit_at_size(count_fn, height, width, probe: int = PROBE, direct: bool = False) -> SizeFit:
    """Evaluate integer counts ``count_fn(h, w) -> (c0, c1, ...)`` at ``height x width`` (may be fractional).

    Convolutions with "same" padding make every count a*h*w + b*h + c*w + d: taken at probes
    (p|2p) x (p|2p), fitted exactly, and checked at (3p, 5p) and (5p, 3p). A model that rejects the
    probes is retried with larger ones (up to MAX_PROBE). When the check fails (strided convs or pools
    without padding floor their output sizes, so the count is not bilinear: RFDN's ESA) or no probe
    runs, the count is taken directly at the size; a fractional size is then floored to whole pixels
    (the LR of an HR modcropped to a multiple of the scale, e.g. 426x240 for 1280x720 at x3).
    ``direct`` (a cheap ``count_fn``, e.g. on the meta device): an integer size is always counted
    directly too, and a fit that disagrees there (the probes met the floors in phase) is not used.
    """
    results: dict = {}

    def at(h, w):
        if (h, w) not in results:
            results[(h, w)] = count_fn(h, w)
        return results[(h, w)]

    H, W = Fraction(height), Fraction(width)
    integral = H.denominator == W.denominator == 1
    fitted, p = None, probe
    while p <= MAX_PROBE:
        try:
            fitted = _fit(at, p)
            if all(tuple(_eval(fitted, h, w)) == tuple(at(h, w)) for h, w in ((3 * p, 5 * p), (5 * p, 3 * p))):
                break
            fitted = None  # not bilinear: counted at the size below
            break
        except SrbenchError:
            raise
        except Exception:  # noqa: BLE001 - the model rejects inputs this small: larger probes
            fitted, p = None, p * 2
    h, w = math.floor(H), math.floor(W)
    if fitted is not None and not (direct and integral):
        return SizeFit(tuple(round(v) for v in _eval(fitted, H, W)), _per_pixel(fitted), None, results)
    try:
        counts = tuple(at(h, w))
    except SrbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SrbenchError(f"the model does not run on a {w}x{h} input, so it cannot be counted there "
                           f"({type(exc).__name__}: {first})") from None
    if fitted is not None and tuple(_eval(fitted, H, W)) == counts:  # a direct count that the fit confirms
        return SizeFit(counts, _per_pixel(fitted), None, results)
    return SizeFit(counts, False, (h, w), results)


def _per_pixel(fitted) -> bool:
    return all(b == c == d == 0 for _, b, c, d in fitted)


def _fit(at, p: int) -> list[tuple[Fraction, Fraction, Fraction, Fraction]]:
    """Coefficients (a, b, c, d) of a*h*w + b*h + c*w + d for every count, from probes (p|2p) x (p|2p)."""
    h0, w0, h1, w1 = p, p, 2 * p, 2 * p
    f = {k: at(*k) for k in ((h0, w0), (h1, w0), (h0, w1), (h1, w1))}
    out = []
    for i in range(len(f[(h0, w0)])):
        f00, f10, f01, f11 = (f[k][i] for k in ((h0, w0), (h1, w0), (h0, w1), (h1, w1)))
        a = Fraction(f11 - f10 - f01 + f00, (h1 - h0) * (w1 - w0))
        b = Fraction(f10 - f00, h1 - h0) - a * w0
        c = Fraction(f01 - f00, w1 - w0) - a * h0
        d = f00 - a * h0 * w0 - b * h0 - c * w0
        out.append((a, b, c, d))
    return out



def _eval(fitted, h, w):
    return [a * h * w + b * h + c * w + d for a, b, c, d in fitted]
