"""Baselines and the CI regression gate: compare set means and per-image values with tolerances.

The gate fails (exit 1) on a value beyond its tolerance in the worse direction, a baseline result or
image that is missing from the results (a ``--limit`` or partial run counts its absent images as
missing), a non-number (NaN), and two result files with the same key. Default tolerances come from
each metric's spec (``MetricSpec.tolerance``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .errors import SrbenchError
from .results import environment, load_result_files, read_json

BASELINE_SCHEMA = "srbench-baseline/2"
FALLBACK_TOL = 0.01  # metrics srbench does not know


def key_of(doc: dict) -> tuple:
    proto = doc["protocol"]
    precision = doc.get("provenance", {}).get("precision", "fp32")
    return (doc["model"], doc["dataset"], int(doc["scale"]), f"{proto['name']}@{proto['version']}", precision)


def default_tolerances() -> dict[str, float]:
    from .metrics import METRICS

    return {n: METRICS.get(n).tolerance for n in METRICS.names()}


def make_baseline(docs: list[dict], command: str | None = None) -> dict:
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
        })
    env = environment()
    return {"schema": BASELINE_SCHEMA, "created": env["date"], "srbench_version": env["srbench_version"],
            "git_hash": env["git_hash"], "command": command, "tolerances": default_tolerances(), "entries": entries}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_entry(f: Path, i: int, e) -> None:
    where = f"{f}: entry {i + 1}"
    if not isinstance(e, dict):
        raise SrbenchError(f"{where} is not an object")
    for k, tp in (("model", str), ("dataset", str), ("scale", int), ("protocol", str), ("metrics", dict)):
        if not isinstance(e.get(k), tp):
            raise SrbenchError(f"{where} lacks a valid '{k}'; regenerate the baseline with 'srbench baseline'")
    bad = [m for m, v in e["metrics"].items() if not _number(v)]
    images = e.get("images", {})
    if bad or not isinstance(images, dict) or not all(
            isinstance(v, dict) and all(_number(x) for x in v.values()) for v in images.values()):
        raise SrbenchError(f"{where} ({e['model']} {e['dataset']} x{e['scale']}) has non-numeric values; "
                           "regenerate the baseline with 'srbench baseline'")


def load_baselines(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise SrbenchError(f"baseline {path} does not exist; write one with 'srbench baseline --results DIR --out FILE'")
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    entries = []
    for f in files:
        doc = read_json(f)
        if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA:
            raise SrbenchError(f"{f}: not an srbench baseline (expected schema '{BASELINE_SCHEMA}')")
        if not isinstance(doc.get("entries"), list):
            raise SrbenchError(f"{f}: the baseline has no list of entries")
        for i, e in enumerate(doc["entries"]):
            _check_entry(f, i, e)
        entries += doc["entries"]
    if not entries:
        raise SrbenchError(f"{path}: the baseline has no entries")
    return entries


def parse_tolerances(text: str | None) -> dict[str, float]:
    tol = default_tolerances()
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            tol[name.strip()] = float(value)
            if not tol[name.strip()] >= 0:
                raise ValueError
        except ValueError:
            raise SrbenchError(f"bad tolerance '{item}': use e.g. --tol psnr=0.01,ssim=0.0005") from None
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
    from .metrics import METRICS

    current: dict[tuple, dict] = {}
    files: dict[tuple, list[Path]] = {}
    for f, d in results:
        k = key_of(d)
        files.setdefault(k, []).append(f)
        current[k] = d
    findings = [Finding(k, "(result)", None, None, None, 0.0, problem="duplicate")
                for k, fs in files.items() if len(fs) > 1]
    for entry in baseline:
        key = (entry["model"], entry["dataset"], int(entry["scale"]), entry["protocol"], entry.get("precision", "fp32"))
        doc = current.get(key)
        per_image = {i["name"]: i for i in doc.get("images", [])} if doc else {}
        for metric, value in entry["metrics"].items():
            tol = tolerances.get(metric, FALLBACK_TOL)
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
