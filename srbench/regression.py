"""Baselines and the CI regression gate: compare set means (and per-image values) with tolerances."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import SrbenchError
from .results import environment, load_results

BASELINE_SCHEMA = "srbench-baseline/1"
# Absolute tolerances; metrics not listed use DEFAULT_TOL.
DEFAULT_TOLERANCES = {"psnr": 0.01, "psnr_rgb": 0.01, "ssim": 0.0005, "lpips": 0.002, "lpips_vgg": 0.002,
                      "niqe": 0.01, "ma": 0.01, "pi": 0.01}
DEFAULT_TOL = 0.01


def key_of(doc: dict) -> tuple:
    proto = doc["protocol"]
    return (doc["model"], doc["dataset"], int(doc["scale"]), f"{proto['name']}@{proto['version']}")


def make_baseline(docs: list[dict], command: str | None = None) -> dict:
    entries = []
    for d in sorted(docs, key=key_of):
        model, ds, scale, proto = key_of(d)
        entries.append({
            "model": model, "dataset": ds, "scale": scale, "protocol": proto,
            "metrics": d["metrics"],
            "images": {i["name"]: {m: i[m] for m in d["metrics"] if m in i} for i in d.get("images", [])},
            "weights_sha256": (d["provenance"].get("weights") or {}).get("sha256"),
        })
    env = environment()
    return {"schema": BASELINE_SCHEMA, "created": env["date"], "srbench_version": env["srbench_version"],
            "git_hash": env["git_hash"], "command": command, "tolerances": DEFAULT_TOLERANCES, "entries": entries}


def load_baselines(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise SrbenchError(f"baseline {path} does not exist; write one with 'srbench baseline --results DIR --out FILE'")
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    entries = []
    for f in files:
        try:
            doc = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SrbenchError(f"{f}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA:
            raise SrbenchError(f"{f}: not an srbench baseline (expected schema '{BASELINE_SCHEMA}')")
        entries += doc["entries"]
    if not entries:
        raise SrbenchError(f"{path}: the baseline has no entries")
    return entries


def parse_tolerances(text: str | None) -> dict[str, float]:
    tol = dict(DEFAULT_TOLERANCES)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            tol[name.strip()] = float(value)
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

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def status(self) -> str:
        if self.current is None:
            return "missing"
        if self.delta is None or (math.isinf(self.baseline) and self.baseline == self.current):
            return "ok"
        if abs(self.delta) <= self.tol:
            return "ok"
        worse = self.delta < 0 if self.higher_is_better else self.delta > 0
        return "REGRESSION" if worse else "changed (better)"


def compare(baseline: list[dict], results: list[dict], tolerances: dict[str, float]) -> list[Finding]:
    from .metrics import METRICS

    current = {key_of(d): d for d in results}
    findings = []
    for entry in baseline:
        key = (entry["model"], entry["dataset"], int(entry["scale"]), entry["protocol"])
        doc = current.get(key)
        per_image = {i["name"]: i for i in doc.get("images", [])} if doc else {}
        for metric, value in entry["metrics"].items():
            tol = tolerances.get(metric, DEFAULT_TOL)
            hib = METRICS.get(metric).higher_is_better if metric in METRICS else True
            cur = doc["metrics"].get(metric) if doc else None
            findings.append(Finding(key, metric, None, value, cur, tol, hib))
            if doc is None:
                continue
            for image, values in entry.get("images", {}).items():
                if metric in values and image in per_image and metric in per_image[image]:
                    findings.append(Finding(key, metric, image, values[metric], per_image[image][metric], tol, hib))
    return findings


def report(findings: list[Finding]) -> tuple[str, bool]:
    """Readable diff of everything that is not ok, and whether the gate passes."""
    from tabulate import tabulate

    bad = [f for f in findings if f.status != "ok"]
    n_sets = len({f.key for f in findings})
    if not bad:
        return f"PASS: {len(findings)} values in {n_sets} results within tolerance", True
    rows = []
    for f in bad:
        model, ds, scale, proto = f.key
        rows.append([f.status, model, ds, f"x{scale}", proto, f.metric, f.image or "(set mean)",
                     "–" if f.baseline is None else f"{f.baseline:.4f}", "–" if f.current is None else f"{f.current:.4f}",
                     "–" if f.delta is None else f"{f.delta:+.4f}", f"±{f.tol:g}"])
    table = tabulate(rows, headers=["status", "model", "set", "scale", "protocol", "metric", "image", "baseline",
                                    "current", "Δ", "tol"], tablefmt="simple", disable_numparse=True)
    summary = (f"FAIL: {len(bad)} of {len(findings)} values drifted beyond tolerance "
               f"({sum(f.status == 'REGRESSION' for f in bad)} regressions, {sum(f.status == 'missing' for f in bad)} missing)")
    return table + "\n" + summary, False


def check(baseline_path, results_path, tol_text: str | None = None) -> tuple[str, bool]:
    baseline = load_baselines(baseline_path)
    results = load_results(results_path)
    if not results:
        raise SrbenchError(f"no result files in {results_path}")
    return report(compare(baseline, results, parse_tolerances(tol_text)))
