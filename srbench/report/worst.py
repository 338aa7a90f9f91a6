"""Where does a model fail? Per-image ranking of one result, against a reference result or alone.

With a reference B (paired by name, the same checks as :func:`srbench.compare`), an image's *loss*
is how much worse A is than B in the ranking metric's direction (``MetricSpec.higher_is_better``):
B - A for PSNR, A - B for LPIPS. Without one, it is how much worse A is on that image than on its
median image. The k images of largest loss come first (ties by name).

Each listed image is flagged where a no-reference metric (NIQE, Ma, PI) and a full-reference metric
(PSNR, SSIM, LPIPS) disagree in sign: one says A is better there (than B, or than A's median) and the
other says worse; perception and fidelity part ways on such images. For the crop grid,
:func:`max_difference_box` picks the window where the error maps of A and B differ most.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from srbench.errors import SrbenchError
from srbench.report.significance import (
    _spec,
    check_comparable,
    label,
    per_image,
    shared_metrics,
)


@dataclass(frozen=True)
class WorstImage:
    rank: int
    name: str
    value: float  # A's value of the ranking metric
    reference: float | None  # B's value (None without a reference)
    loss: float  # how much worse A is (than B, or than A's median), in the metric's unit; > 0: worse
    deltas: dict  # metric -> A - B (or A - A's median)
    disagree: tuple[str, ...]  # "NIQE/PSNR": a no-reference and a full-reference metric with opposite signs


@dataclass(frozen=True)
class WorstReport:
    model: str
    reference: str | None
    dataset: str
    scale: int
    protocol: str
    metric: str
    higher_is_better: bool
    n_images: int
    metrics: tuple[str, ...]
    images: tuple[WorstImage, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def _needs_reference(doc: dict, metric: str) -> bool:
    from srbench.metrics.registry import METRICS

    if metric in METRICS:
        return METRICS.get(metric).needs_reference
    return bool(((doc.get("metric_info") or {}).get(metric) or {}).get("needs_reference", True))


def worst(doc_a: dict, doc_b: dict | None = None, metric: str = "psnr", k: int = 10,
          metrics: list[str] | None = None) -> WorstReport:
    """The ``k`` images where A loses most to B (or scores worst), ranked by ``metric``; every metric
    of ``metrics`` (default: all A and B share) gets its delta and enters the disagreement flags."""
    from srbench.report.significance import load_doc

    doc_a = load_doc(doc_a)
    doc_b = None if doc_b is None else load_doc(doc_b)
    if k < 1:
        raise SrbenchError(f"-k must be at least 1, got {k}")
    if doc_b is not None:
        check_comparable(doc_a, doc_b)
    other = doc_b if doc_b is not None else doc_a
    metric = shared_metrics(doc_a, other, [metric])[0]
    chosen = shared_metrics(doc_a, other, metrics)
    if metric not in chosen:
        chosen = [metric, *chosen]
    names = sorted(i["name"] for i in doc_a["images"])
    good, delta = {}, {}
    for m in chosen:
        a = per_image(doc_a, m, names)
        base = per_image(doc_b, m, names) if doc_b is not None else np.full_like(a, np.median(a))
        delta[m] = a - base
        good[m] = delta[m] if _spec(doc_a, m)[1] else -delta[m]  # > 0: A better
    full = [m for m in chosen if _needs_reference(doc_a, m)]
    nr = [m for m in chosen if not _needs_reference(doc_a, m)]
    loss = -good[metric]
    order = sorted(range(len(names)), key=lambda i: (-loss[i], names[i]))[:k]
    a_values = per_image(doc_a, metric, names)
    b_values = per_image(doc_b, metric, names) if doc_b is not None else None
    titles = {m: _spec(doc_a, m)[0] for m in chosen}
    rows = []
    for rank, i in enumerate(order, 1):
        flags = tuple(f"{titles[n]}/{titles[f]}" for n in nr for f in full if good[n][i] * good[f][i] < 0)
        rows.append(WorstImage(rank=rank, name=names[i], value=float(a_values[i]),
                               reference=None if b_values is None else float(b_values[i]), loss=float(loss[i]),
                               deltas={m: float(delta[m][i]) for m in chosen}, disagree=flags))
    p = doc_a["protocol"]
    return WorstReport(model=label(doc_a), reference=None if doc_b is None else label(doc_b), dataset=doc_a["dataset"],
                       scale=int(doc_a["scale"]), protocol=f"{p['name']}@{p['version']}", metric=metric,
                       higher_is_better=_spec(doc_a, metric)[1], n_images=len(names), metrics=tuple(chosen),
                       images=tuple(rows))


def error_map(sr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """Mean absolute error over the colour channels, per pixel (float64)."""
    diff = np.abs(sr.astype(np.float64) - hr.astype(np.float64))
    return diff.mean(axis=2) if diff.ndim == 3 else diff


def max_difference_box(diff: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the ``size`` x ``size`` window (clipped to the image) with the largest sum of
    ``diff``; the first such window in row-major order on ties."""
    if size < 1:
        raise SrbenchError(f"the crop size must be positive, got {size}")
    h, w = min(size, diff.shape[0]), min(size, diff.shape[1])
    integral = np.zeros((diff.shape[0] + 1, diff.shape[1] + 1))
    integral[1:, 1:] = np.cumsum(np.cumsum(diff, axis=0), axis=1)
    sums = integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(x), int(y), w, h
