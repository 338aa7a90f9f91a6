"""Is A better than B on this set? Paired statistics over the per-image values two results share.

Two results are compared only when their numbers were made the same way: the same protocol (every
setting), set content fingerprint, image names, scale, precision, limit, and settings of each compared
metric; otherwise :func:`compare` refuses with one line. Per metric it reports, on the per-image
differences ``d_i = A_i - B_i`` (images paired by name):

- the mean difference (equal to the difference of the two set means);
- a paired bootstrap confidence interval of that mean (percentile method; one seeded matrix of
  resample indices, shared by every metric and pair, so the numbers are reproducible);
- the two-sided Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon``, its defaults);
- win / tie / loss counts over images from A's side, a tie being a difference that rounds to zero at
  the metric's table precision (``MetricSpec.fmt``);
- a verdict in the metric's direction (``MetricSpec.higher_is_better``): a difference is significant
  when the interval excludes 0 *and* p < 1 - confidence. Both are asked for because either alone
  misleads on small sets: a constant 0.001 dB gain on 5 images has a zero-width interval, while the
  smallest two-sided Wilcoxon p on 5 images is 0.0625.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from srbench.errors import SrbenchError

N_RESAMPLES = 10_000
MAX_RESAMPLES = 1_000_000
SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class MetricComparison:
    """One metric of a paired comparison; differences are A - B, in the metric's unit."""

    metric: str
    title: str
    higher_is_better: bool
    unit: str
    fmt: str  # the metric's table format (leaderboards print means with it)
    n: int
    mean_a: float
    mean_b: float
    diff: float  # mean of the per-image differences A - B
    ci_low: float
    ci_high: float
    p_value: float  # Wilcoxon signed-rank, two-sided
    wins: int  # images where A is better than B
    ties: int  # images whose difference rounds to 0 at the table precision
    losses: int  # images where A is worse than B
    significant: bool  # the interval excludes 0 and p < 1 - confidence
    better: Literal["a", "b"] | None  # the significantly better one, None when not significant

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of results ``model_a`` and ``model_b`` on the same images."""

    model_a: str
    model_b: str
    dataset: str
    scale: int
    protocol: str  # name@version
    precision: str
    n_images: int
    confidence: float
    n_resamples: int
    seed: int
    metrics: tuple[MetricComparison, ...]

    def metric(self, name: str) -> MetricComparison:
        for m in self.metrics:
            if m.metric == name:
                return m
        raise SrbenchError(f"metric '{name}' was not compared; compared: {', '.join(m.metric for m in self.metrics)}")

    def verdict(self, name: str) -> str:
        m = self.metric(name)
        if m.better is None:
            return "no significant difference"
        return f"{self.model_a if m.better == 'a' else self.model_b} better"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["metrics"] = [{**asdict(m), "verdict": self.verdict(m.metric)} for m in self.metrics]
        return d


# ---------------------------------------------------------------------------------------------
# what may be compared


def _identity(doc: dict) -> dict:
    ident = doc.get("identity") if isinstance(doc, dict) else None
    if not isinstance(ident, dict) or not isinstance(doc.get("images"), list):
        raise SrbenchError("not a srbench result document with per-image values (no 'identity' or 'images'); "
                           "pass result JSON files written by 'srbench run' or 'srbench score'")
    return ident


def label(doc: dict) -> str:
    precision = doc.get("provenance", {}).get("precision", "fp32")
    return f"{doc['model']}" + ("" if precision == "fp32" else f" ({precision})")


def check_comparable(doc_a: dict, doc_b: dict) -> None:
    """Raise SrbenchError (one line) unless the two results were computed the same way on the same images."""
    ia, ib = _identity(doc_a), _identity(doc_b)
    who = f"cannot compare {label(doc_a)} and {label(doc_b)}"
    fix = "; compare results of the same protocol, set, scale, precision and images"
    pa, pb = ia.get("protocol") or {}, ib.get("protocol") or {}
    if pa != pb:
        keys = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
        raise SrbenchError(f"{who}: protocols differ ({pa.get('name')}@{pa.get('version')} vs "
                           f"{pb.get('name')}@{pb.get('version')}; in {', '.join(keys)}){fix}")
    da, db = ia.get("dataset") or {}, ib.get("dataset") or {}
    for what, va, vb in (("set", da.get("name"), db.get("name")),
                         ("scale", ia.get("scale"), ib.get("scale")),
                         ("precision", ia.get("precision"), ib.get("precision")),
                         ("limit", ia.get("limit"), ib.get("limit")),
                         ("set fingerprint (set content or image subset)", da.get("fingerprint"), db.get("fingerprint"))):
        if va != vb:
            raise SrbenchError(f"{who}: {what} differs ({va} vs {vb}){fix}")
    na, nb = _names(doc_a), _names(doc_b)
    if set(na) != set(nb):
        only_a, only_b = sorted(set(na) - set(nb)), sorted(set(nb) - set(na))
        raise SrbenchError(f"{who}: image sets differ ({len(only_a)} only in {label(doc_a)}"
                           f"{', e.g. ' + only_a[0] if only_a else ''}; {len(only_b)} only in {label(doc_b)}"
                           f"{', e.g. ' + only_b[0] if only_b else ''}){fix}")


def _names(doc: dict) -> list[str]:
    names = [i.get("name") for i in doc["images"]]
    if len(set(names)) != len(names):
        raise SrbenchError(f"{label(doc)} {doc.get('dataset')}: the result lists an image twice; rerun it")
    return names


def _spec(doc: dict, metric: str):
    """(title, higher_is_better, unit, fmt) from the metric spec; a metric srbench does not know is
    described by the spec copy inside the result."""
    from srbench.metrics.registry import METRICS

    if metric in METRICS:
        s = METRICS.get(metric)
        return s.title, s.higher_is_better, s.unit, s.fmt
    info = (doc.get("metric_info") or {}).get(metric) or {}
    if not isinstance(info.get("higher_is_better"), bool):
        raise SrbenchError(f"metric '{metric}' is not an srbench metric and the result does not say its direction")
    return info.get("title", metric), info["higher_is_better"], info.get("unit", ""), ".4f"


def shared_metrics(doc_a: dict, doc_b: dict, metrics: list[str] | None = None) -> list[str]:
    """The metrics to compare: ``metrics`` (each must be in both results with the same settings), or
    every metric both results hold, in registry order."""
    from srbench.metrics.registry import METRICS

    both = [m for m in doc_a["metrics"] if m in doc_b["metrics"]]
    if metrics is None:
        order = {n: i for i, n in enumerate(METRICS.names())}
        chosen = sorted(both, key=lambda m: (order.get(m, len(order)), m))
        if not chosen:
            raise SrbenchError(f"{label(doc_a)} and {label(doc_b)} share no metric")
    else:
        chosen = [METRICS.get(m).name if m in METRICS else m for m in metrics]
        missing = [m for m in chosen if m not in both]
        if missing:
            raise SrbenchError(f"metric(s) {', '.join(missing)} not in both results (shared: {', '.join(both) or 'none'})")
    sa, sb = _identity(doc_a).get("metrics") or {}, _identity(doc_b).get("metrics") or {}
    for m in chosen:
        if sa.get(m) != sb.get(m):
            raise SrbenchError(f"cannot compare {m}: its settings differ ({sa.get(m)} vs {sb.get(m)})")
    return chosen


def per_image(doc: dict, metric: str, names: list[str]) -> np.ndarray:
    """The per-image values of ``metric`` in the order of ``names``; non-finite values are refused
    (a mean difference with an infinite PSNR has no interval)."""
    by_name = {i["name"]: i for i in doc["images"]}
    values = []
    for n in names:
        v = by_name[n].get(metric)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise SrbenchError(f"{label(doc)} {doc.get('dataset')}: {metric} of {n} is {v!r}, not a finite number; "
                               f"compare without {metric} (--metrics)")
        values.append(float(v))
    return np.asarray(values)


# ---------------------------------------------------------------------------------------------
# statistics


@functools.lru_cache(maxsize=4)
def resample_counts(n: int, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> np.ndarray:
    """How often each of ``n`` images is drawn in each bootstrap resample: the index matrix
    ``Generator(seed).integers(0, n, (n_resamples, n))`` (row b = resample b) as counts, so the mean of
    resample b of any per-image vector v is ``counts[b] @ v / n`` (one matrix product for all pairs)."""
    if n < 1:
        raise SrbenchError("no images to compare")
    if not 1 <= n_resamples <= MAX_RESAMPLES:
        raise SrbenchError(f"the number of bootstrap resamples must be positive and at most {MAX_RESAMPLES:,} "
                           f"(memory: a resamples x images matrix), got {n_resamples}")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    rows = np.repeat(np.arange(n_resamples), n)
    counts = np.bincount(rows * n + idx.ravel(), minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)
    counts.flags.writeable = False  # shared by every call with these arguments (cached)
    return counts


def decimals(fmt: str) -> int | None:
    """Digits after the point of a fixed-point format such as '.2f' (None for other formats)."""
    if fmt.startswith(".") and fmt.endswith("f") and fmt[1:-1].isdigit():
        return int(fmt[1:-1])
    return None


def tie_tolerance(fmt: str) -> float:
    """Half a unit of the table precision: a difference below it prints as 0 (exact zero otherwise)."""
    d = decimals(fmt)
    return 0.0 if d is None else 0.5 * 10.0 ** -d


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the paired differences (scipy's defaults); 1.0 when
    every difference is zero (there is nothing to rank)."""
    from scipy.stats import wilcoxon

    if not np.any(diffs != 0):
        return 1.0
    return float(wilcoxon(diffs).pvalue)


def _metric_comparison(metric, spec, a, b, boot_diff, confidence) -> MetricComparison:
    title, hib, unit, fmt = spec
    d = a - b
    alpha = 1.0 - confidence
    lo, hi = np.quantile(boot_diff, [alpha / 2, 1 - alpha / 2])
    p = wilcoxon_p(d)
    good = d if hib else -d  # > 0: A better
    tie = (np.abs(d) < tie_tolerance(fmt)) | (d == 0)
    significant = bool((lo > 0 or hi < 0) and p < alpha)
    mean_good = float(np.mean(good))
    better = ("a" if mean_good > 0 else "b") if significant else None
    return MetricComparison(
        metric=metric, title=title, higher_is_better=hib, unit=unit, fmt=fmt, n=len(d),
        mean_a=float(np.mean(a)), mean_b=float(np.mean(b)), diff=float(np.mean(d)),
        ci_low=float(lo), ci_high=float(hi), p_value=p,
        wins=int(np.sum((good > 0) & ~tie)), ties=int(np.sum(tie)), losses=int(np.sum((good < 0) & ~tie)),
        significant=significant, better=better)


def _header(doc: dict, n: int, confidence: float, n_resamples: int, seed: int, metrics) -> dict:
    p = doc["protocol"]
    return {"dataset": doc["dataset"], "scale": int(doc["scale"]), "protocol": f"{p['name']}@{p['version']}",
            "precision": doc.get("provenance", {}).get("precision", "fp32"), "n_images": n,
            "confidence": confidence, "n_resamples": n_resamples, "seed": seed, "metrics": tuple(metrics)}


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise SrbenchError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


def load_doc(doc) -> dict:
    """A result document, or the single result in a result file."""
    if isinstance(doc, dict):
        return doc
    from srbench.store.results import load_results

    docs = load_results(Path(doc))
    if len(docs) != 1:
        raise SrbenchError(f"{doc}: holds {len(docs)} results; pass one result file")
    return docs[0]


def compare(doc_a, doc_b, metrics: list[str] | None = None, *, n_resamples: int = N_RESAMPLES, seed: int = SEED,
            confidence: float = CONFIDENCE) -> Comparison:
    """Paired comparison of two results (documents or result files) on the same images (see the
    module docstring); raises SrbenchError when they were not computed the same way."""
    doc_a, doc_b = load_doc(doc_a), load_doc(doc_b)
    check_comparable(doc_a, doc_b)
    chosen = shared_metrics(doc_a, doc_b, metrics)
    return compare_all([doc_a, doc_b], chosen, n_resamples=n_resamples, seed=seed, confidence=confidence,
                       pairs=[(0, 1)])[0]


def compare_all(docs: list[dict], metrics: list[str], *, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                confidence: float = CONFIDENCE, pairs: list[tuple[int, int]] | None = None) -> list[Comparison]:
    """:func:`compare` for ``pairs`` of ``docs`` (default: every pair i < j), with the same numbers, but
    each metric's bootstrap means computed once for all models (one matrix product)."""
    _check_confidence(confidence)
    if pairs is None:
        pairs = [(i, j) for i in range(len(docs)) for j in range(i + 1, len(docs))]
    if not pairs:
        return []
    for i, j in pairs:
        check_comparable(docs[i], docs[j])
        metrics = shared_metrics(docs[i], docs[j], metrics)  # canonical names (aliases resolved)
    used = sorted({k for p in pairs for k in p})
    names = sorted(_names(docs[used[0]]))
    if any(sorted(_names(docs[k])) != names for k in used):
        raise SrbenchError("these results are not all on the same images; compare the results of one set at a time")
    counts = resample_counts(len(names), n_resamples, seed)
    results: dict[tuple[int, int], list[MetricComparison]] = {p: [] for p in pairs}
    for m in metrics:
        values = {k: per_image(docs[k], m, names) for k in used}
        boot = counts @ np.stack([values[k] for k in used], axis=1)  # resample sums, per model
        col = {k: c for c, k in enumerate(used)}
        for i, j in pairs:
            boot_diff = (boot[:, col[i]] - boot[:, col[j]]) / len(names)
            results[(i, j)].append(_metric_comparison(m, _spec(docs[i], m), values[i], values[j], boot_diff,
                                                      confidence))
    return [Comparison(model_a=label(docs[i]), model_b=label(docs[j]),
                       **_header(docs[i], len(names), confidence, n_resamples, seed, results[(i, j)]))
            for i, j in pairs]


def ties_with_best(docs: list[dict], metric: str, *, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                   confidence: float = CONFIDENCE) -> tuple[int | None, set[int]]:
    """(index of the best set mean, indices whose difference to it is not significant), over the
    results of ``docs`` that hold ``metric`` with finite per-image values and can be paired with the
    best; the others are in neither (they cannot be tested)."""
    idx = [k for k, d in enumerate(docs) if metric in d.get("metrics", {})
           and all(isinstance(i.get(metric), (int, float)) and math.isfinite(i[metric]) for i in d.get("images", []))]
    if not idx:
        return None, set()
    _, hib, _, _ = _spec(docs[idx[0]], metric)
    best = (max if hib else min)(idx, key=lambda k: docs[k]["metrics"][metric])
    pairs = []
    for k in idx:
        if k == best:
            continue
        try:
            check_comparable(docs[best], docs[k])
            shared_metrics(docs[best], docs[k], [metric])
        except SrbenchError:
            continue
        pairs.append((best, k))
    comps = compare_all(docs, [metric], n_resamples=n_resamples, seed=seed, confidence=confidence, pairs=pairs)
    return best, {k for (_, k), c in zip(pairs, comps) if not c.metrics[0].significant}
