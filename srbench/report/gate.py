"""Baselines and the CI regression gate: compare set means and per-image values with tolerances.

The gate fails (exit 1) on a value beyond its tolerance in the worse direction, a baseline result or
image that is missing from the results (a ``--limit`` or partial run counts its absent images as
missing), a non-number (NaN), and two result files with the same key. Tolerances: ``--tol``, else
the baseline's stored ``tolerances``, else each metric's spec (``MetricSpec.tolerance``).

The gate is strict both ways: a baseline is written only from whole-set, verified, fp32 results (no
``--limit``, ``--allow-missing`` or ``--allow-incomplete`` subsets, no int8/fp16), and a baseline
file with unknown keys, a duplicated entry, an entry without metrics or images, an image lacking
one of its entry's metrics, or fewer entries/images than it declares is refused as bad input; a
result that could not enter a baseline (a subset, an unverified set copy) fails its entry as invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from srbench.errors import SrbenchError
from srbench.store.results import environment, load_result_files, read_json

BASELINE_SCHEMA = "srbench-baseline/2"
FALLBACK_TOL = 0.01  # metrics srbench does not know


def key_of(doc: dict) -> tuple:
    proto = doc["protocol"]
    precision = doc.get("provenance", {}).get("precision", "fp32")
    return (doc["model"], doc["dataset"], int(doc["scale"]), f"{proto['name']}@{proto['version']}", precision)


def default_tolerances() -> dict[str, float]:
    from srbench.metrics.registry import METRICS

    return {n: METRICS.get(n).tolerance for n in METRICS.names()}


TOP_KEYS = {"schema", "created", "srbench_version", "git_hash", "command", "tolerances", "entries", "n_entries"}
ENTRY_KEYS = {"model", "dataset", "scale", "protocol", "precision", "metrics", "images", "weights_sha256", "n_images"}


def gate_worthy(doc: dict) -> str | None:
    """Why a result cannot enter a baseline (None when it can): a subset, an unverified set copy, not fp32."""
    prov = doc.get("provenance") or {}
    ds = prov.get("dataset") or {}
    if prov.get("precision", "fp32") != "fp32":
        return f"it is {prov['precision']}, not fp32"
    if ds.get("limit") or not ds.get("complete", False) or ds.get("incomplete"):
        return f"it is a subset ({doc.get('n_images')} of {ds.get('n_images', '?')} images)"
    if ds.get("manifest") and not ds.get("verified"):
        return f"its set copy does not verify against datasets/{ds['manifest']}"
    if not doc.get("images") or len(doc["images"]) != doc.get("n_images"):
        return "it has no per-image values for every image"
    return None


def make_baseline(docs: list[dict], command: str | None = None) -> dict:
    for d in docs:
        why = gate_worthy(d)
        if why is not None:
            raise SrbenchError(f"{_key_text(key_of(d))} cannot be a baseline: {why}; a baseline is built only from "
                               "whole-set, verified, fp32 results (rerun without --limit/--allow-incomplete)")
    keys = [key_of(d) for d in docs]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise SrbenchError(f"two results share the key {_key_text(dup)}; keep one before writing a baseline")
    entries = []
    for d in sorted(docs, key=key_of):
        model, ds, scale, proto, precision = key_of(d)
        entries.append({
            "model": model, "dataset": ds, "scale": scale, "protocol": proto, "precision": precision,
            "metrics": d["metrics"],
            "images": {i["name"]: {m: i[m] for m in d["metrics"] if m in i} for i in d.get("images", [])},
            "weights_sha256": (d["provenance"].get("weights") or {}).get("sha256"),
            "n_images": len(d["images"]),
        })
    env = environment()
    return {"schema": BASELINE_SCHEMA, "created": env["date"], "srbench_version": env["srbench_version"],
            "git_hash": env["git_hash"], "command": command, "tolerances": default_tolerances(),
            "n_entries": len(entries), "entries": entries}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_entry(f: Path, i: int, e) -> None:
    where = f"{f}: entry {i + 1}"
    regen = "regenerate the baseline with 'srbench baseline'"
    if not isinstance(e, dict):
        raise SrbenchError(f"{where} is not an object")
    unknown = sorted(set(e) - ENTRY_KEYS)
    if unknown:
        raise SrbenchError(f"{where} has unknown key(s) {', '.join(unknown)}; {regen}")
    for k, tp in (("model", str), ("dataset", str), ("scale", int), ("protocol", str), ("metrics", dict),
                  ("images", dict)):
        if not isinstance(e.get(k), tp) or (tp is dict and not e[k]):
            raise SrbenchError(f"{where} lacks a valid '{k}'; {regen}")
    what = f"{where} ({e['model']} {e['dataset']} x{e['scale']})"
    bad = [m for m, v in e["metrics"].items() if not _number(v)]
    images = e["images"]
    if bad or not all(isinstance(v, dict) and all(_number(x) for x in v.values()) for v in images.values()):
        raise SrbenchError(f"{what} has non-numeric values; {regen}")
    lacking = [f"{n} ({m})" for n, v in images.items() for m in e["metrics"] if m not in v]
    if lacking:
        raise SrbenchError(f"{what}: image(s) lack a metric of the entry: {', '.join(lacking[:3])}; {regen}")
    if "n_images" in e and e["n_images"] != len(images):
        raise SrbenchError(f"{what} declares {e['n_images']} images but holds {len(images)}; {regen}")


def load_baseline_file(f: Path) -> list[dict]:
    """The entries of one baseline file, each with the file's stored tolerances (``_tolerances``)."""
    doc = read_json(f)
    if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA:
        raise SrbenchError(f"{f}: not an srbench baseline (expected schema '{BASELINE_SCHEMA}')")
    unknown = sorted(set(doc) - TOP_KEYS)
    if unknown:
        raise SrbenchError(f"{f}: unknown key(s) {', '.join(unknown)}; regenerate the baseline with 'srbench baseline'")
    if not isinstance(doc.get("entries"), list):
        raise SrbenchError(f"{f}: the baseline has no list of entries")
    if "n_entries" in doc and doc["n_entries"] != len(doc["entries"]):
        raise SrbenchError(f"{f}: declares {doc['n_entries']} entries but holds {len(doc['entries'])}; "
                           "regenerate the baseline with 'srbench baseline'")
    stored = doc.get("tolerances", {})
    if not isinstance(stored, dict) or not all(_number(v) and v >= 0 for v in stored.values()):
        raise SrbenchError(f"{f}: 'tolerances' must map metric names to non-negative numbers")
    for i, e in enumerate(doc["entries"]):
        _check_entry(f, i, e)
    return [{**e, "_tolerances": stored} for e in doc["entries"]]


def _entry_key(e: dict) -> tuple:
    return (e["model"], e["dataset"], int(e["scale"]), e["protocol"], e.get("precision", "fp32"))


def load_baselines(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise SrbenchError(f"baseline {path} does not exist; write one with 'srbench baseline --results DIR --out FILE'")
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    entries = []
    for f in files:
        entries += load_baseline_file(f)
    if not entries:
        raise SrbenchError(f"{path}: the baseline has no entries")
    keys = [_entry_key(e) for e in entries]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise SrbenchError(f"{path}: two baseline entries for {_key_text(dup)}; keep one")
    return entries


def parse_tolerances(text: str | None) -> dict[str, float]:
    """The ``--tol`` overrides (``psnr=0.01,ssim=0.0005``) of known metrics; {} without any."""
    from srbench.metrics.registry import METRICS

    tol: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            if not sep:
                raise ValueError
            tol[name] = float(value)
            if not tol[name] >= 0:
                raise ValueError
        except ValueError:
            raise SrbenchError(f"bad tolerance '{item}': use e.g. --tol psnr=0.01,ssim=0.0005") from None
        if name not in METRICS:
            raise SrbenchError(f"--tol {item}: unknown metric '{name}'; known: {', '.join(METRICS.names())}")
    return tol


@dataclass
class Finding:
    key: tuple
    metric: str
    image: str | None  # None for the set mean
    baseline: float | None
    current: float | None
    tol: float
    higher_is_better: bool = True
    problem: str | None = None  # "duplicate" | "invalid" | "missing"

    @property
    def delta(self) -> float | None:
        if not _number(self.baseline) or not _number(self.current):
            return None
        if math.isinf(self.baseline) and self.baseline == self.current:
            return 0.0
        return self.current - self.baseline

    @property
    def status(self) -> str:
        if self.problem:
            return self.problem
        if self.current is None:
            return "missing"
        if not _number(self.current) or math.isnan(self.current):
            return "invalid"
        if self.delta is None or abs(self.delta) <= self.tol:
            return "ok"
        worse = self.delta < 0 if self.higher_is_better else self.delta > 0
        return "REGRESSION" if worse else "changed (better)"


def _key_text(key: tuple) -> str:
    model, ds, scale, proto, precision = key
    return f"{model} {ds} x{scale} {proto}" + ("" if precision == "fp32" else f" {precision}")


def compare(baseline: list[dict], results: list[tuple[Path, dict]], tolerances: dict[str, float]) -> list[Finding]:
    from srbench.metrics.registry import METRICS

    current: dict[tuple, dict] = {}
    files: dict[tuple, list[Path]] = {}
    for f, d in results:
        k = key_of(d)
        files.setdefault(k, []).append(f)
        current[k] = d
    findings = [Finding(k, "(result)", None, None, None, 0.0, problem="duplicate")
                for k, fs in files.items() if len(fs) > 1]
    defaults = default_tolerances()
    for entry in baseline:
        key = _entry_key(entry)
        doc = current.get(key)
        per_image = {i["name"]: i for i in doc.get("images", [])} if doc else {}
        stored = entry.get("_tolerances", {})
        why = gate_worthy(doc) if doc is not None else None
        if why is not None:  # a subset or unverified result never passes for the whole set's entry
            findings.append(Finding(key, f"(result: {why})", None, None, None, 0.0, problem="invalid"))
        for metric, value in entry["metrics"].items():
            # --tol, else the tolerance stored with the baseline, else the metric spec's
            tol = tolerances.get(metric, stored.get(metric, defaults.get(metric, FALLBACK_TOL)))
            hib = METRICS.get(metric).higher_is_better if metric in METRICS else True
            cur = doc["metrics"].get(metric) if doc else None
            findings.append(Finding(key, metric, None, value, cur, tol, hib))
            if doc is None:
                continue
            for image, values in entry.get("images", {}).items():
                if metric not in values:
                    continue
                got = per_image.get(image, {}).get(metric)
                findings.append(Finding(key, metric, image, values[metric], got, tol, hib))
    return findings


def report(findings: list[Finding], duplicate_files: dict | None = None) -> tuple[str, bool]:
    """Readable diff of everything that is not ok, and whether the gate passes."""
    from tabulate import tabulate

    bad = [f for f in findings if f.status != "ok"]
    n_sets = len({f.key for f in findings})
    if not bad:
        return f"PASS: {len(findings)} values in {n_sets} results within tolerance", True
    rows = []
    for f in bad:
        model, ds, scale, proto, precision = f.key
        rows.append([f.status, model, ds, f"x{scale}", proto + ("" if precision == "fp32" else f" {precision}"),
                     f.metric, f.image or "(set mean)", _fmt(f.baseline), _fmt(f.current),
                     "–" if f.delta is None else f"{f.delta:+.4f}", f"±{f.tol:g}"])
    table = tabulate(rows, headers=["status", "model", "set", "scale", "protocol", "metric", "image", "baseline",
                                    "current", "Δ", "tol"], tablefmt="simple", disable_numparse=True)
    counts = {s: sum(f.status == s for f in bad) for s in ("REGRESSION", "missing", "invalid", "duplicate")}
    summary = (f"FAIL: {len(bad)} of {len(findings)} values are not within tolerance ("
               + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ")")
    dup = [f"duplicate results for {_key_text(k)}: {', '.join(str(p) for p in v)}" for k, v in (duplicate_files or {}).items()]
    return "\n".join([table, *dup, summary]), False


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.4f}" if _number(v) else str(v)


def check(baseline_path, results_path, tol_text: str | None = None) -> tuple[str, bool]:
    baseline = load_baselines(baseline_path)
    results = load_result_files(results_path, allow_nan=True)
    if not results:
        raise SrbenchError(f"no result files in {results_path}")
    files: dict[tuple, list[Path]] = {}
    for f, d in results:
        files.setdefault(key_of(d), []).append(f)
    return report(compare(baseline, results, parse_tolerances(tol_text)),
                  {k: v for k, v in files.items() if len(v) > 1})
