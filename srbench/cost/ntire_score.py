"""The NTIRE efficient-SR challenges' ranking of one x4 model, year by year.

Each year's rules are data (``srbench/cost/ntire_esr.toml``): baseline, FLOPs counter, runtime GPU,
PSNR gate and ranking. Since 2024 a model gets a score against the baseline,
``Score_X = exp(2 * X / X_baseline)`` for X in runtime, FLOPs and params, combined as
``Final = w_runtime * Score_Runtime + w_flops * Score_FLOPs + w_params * Score_Params`` (lower is
better; the baseline scores e^2 = 7.3891). 2022 and 2023 ranked by per-metric ranks over the field:
no per-model score exists, and srbench shows the measurements beside the baseline's.

Measurements: params, FLOPs (the year's counter), activations and #conv from ``srbench profile``;
PSNR (protocol ``ntire-esr``) from result files or given; runtime given with the GPU it ran on. A
runtime from another GPU than the challenge's is scored only against the baseline measured on that
same GPU, and labelled so.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from srbench.errors import SrbenchError

PROTOCOL = "ntire-esr"
SCALE = 4


@dataclass(frozen=True)
class Challenge:
    year: int
    title: str
    baseline: str  # zoo model name, "" when srbench has no port
    counter: str  # profile convention of the year's FLOPs
    device: str  # GPU of the published runtimes ("" unknown)
    ranking: str  # "score" or "ranks"
    gate: dict  # dataset -> PSNR threshold (dB)
    baseline_row: dict
    source: str
    weights: dict = field(default_factory=dict)
    ranks: str = ""
    baseline_title: str = ""

    def __post_init__(self):
        if self.ranking not in ("score", "ranks"):
            raise SrbenchError(f"ntire_esr.toml {self.year}: ranking must be 'score' or 'ranks'")
        if self.ranking == "score":
            if set(self.weights) != {"runtime", "flops", "params"} or abs(sum(self.weights.values()) - 1) > 1e-9:
                raise SrbenchError(f"ntire_esr.toml {self.year}: weights must be runtime, flops, params summing to 1")
            missing = {"runtime_ms", "flops_g", "params_m"} - set(self.baseline_row)
            if missing:
                raise SrbenchError(f"ntire_esr.toml {self.year}: baseline_row lacks {', '.join(sorted(missing))}")


@functools.cache
def challenges() -> dict[int, Challenge]:
    data = tomllib.loads((Path(__file__).with_name("ntire_esr.toml")).read_text())
    return {int(y): Challenge(year=int(y), **d) for y, d in data["challenges"].items()}


def get_challenge(year: int) -> Challenge:
    table = challenges()
    if year not in table:
        raise SrbenchError(f"no NTIRE efficient-SR challenge data for {year}: use {', '.join(map(str, table))}")
    return table[year]


def score_x(value: float, baseline: float) -> float:
    """The challenges' per-metric score (2024-): exp(2 * value / baseline)."""
    return math.exp(2.0 * value / baseline)


def final_score(ch: Challenge, runtime_ms: float, flops_g: float, params_m: float,
                baseline_runtime_ms: float | None = None) -> dict:
    """Score_Runtime, Score_FLOPs, Score_Params and Score_Final of ``ch`` (a "score" year)."""
    if ch.ranking != "score":
        raise SrbenchError(f"{ch.title} ranked by per-metric ranks over the field: no per-model score ({ch.ranks})")
    b = ch.baseline_row
    scores = {"runtime": score_x(runtime_ms, baseline_runtime_ms or b["runtime_ms"]),
              "flops": score_x(flops_g, b["flops_g"]), "params": score_x(params_m, b["params_m"])}
    return {**scores, "final": sum(ch.weights[k] * v for k, v in scores.items())}


def same_device(a: str, b: str) -> bool:
    """GPU names compared without vendor words, case or spacing ("RTX 3090" = "NVIDIA GeForce RTX 3090")."""
    def norm(s):
        return re.sub(r"nvidia|geforce|\s+", "", s.lower())

    return bool(a and b) and norm(a) == norm(b)


@dataclass
class Measured:
    """One model's measurements for a challenge, each with where it came from."""

    counts: dict  # params_m, flops_g, activations_m, conv
    psnr: dict  # dataset -> (value, source)
    runtime_ms: float | None = None
    runtime_device: str = ""
    baseline_runtime_ms: float | None = None  # the baseline on the same (non-challenge) GPU


def counts(card, ch: Challenge) -> dict:
    """params (M), FLOPs (G, the year's counter), activations (M) and #conv at the 256x256 LR input."""
    from srbench.cost.complexity import profile

    card.check_scale(SCALE, arch_only_ok=True)
    doc = profile(card, SCALE, ch.counter)
    return {"params_m": doc["params"] / 1e6, "flops_g": doc["flops_g"], "activations_m": doc["activations_m"],
            "conv": doc["convs"]}


def psnr_from_results(docs: list[dict], model: str, datasets) -> dict:
    """{dataset: (PSNR, file stem)} of ``model`` at x4 under protocol ntire-esr, complete fp32 results only."""
    from srbench.report.tables import eligible

    out = {}
    for d in docs:
        if (d["model"] == model and d["scale"] == SCALE and d["protocol"]["name"] == PROTOCOL
                and d["dataset"] in datasets and "psnr" in d["metrics"] and eligible(d) == "fp32"):
            out[d["dataset"]] = (d["metrics"]["psnr"], f"result {d['identity_key'][:10]}")
    return out


def score_table(ch: Challenge, model: str, m: Measured) -> tuple[list[dict], dict]:
    """(rows: component, model value, baseline value, threshold or score, source; summary).

    Refuses (SrbenchError, one line) when a measurement the year needs is missing, or when a runtime
    from another GPU has no baseline runtime from that GPU."""
    b = ch.baseline_row
    missing = [s for s in ch.gate if s not in m.psnr]
    if missing:
        raise SrbenchError(
            f"{ch.title} gates on PSNR (protocol {PROTOCOL}) on {', '.join(missing)}: no such result of '{model}'; "
            f"run 'srbench run --model {model} --scale 4 --protocol {PROTOCOL} --set SET --out DIR' with that set "
            f"and pass --results DIR, or give --psnr {missing[0]}=VALUE")
    rows = []
    for s, threshold in ch.gate.items():
        value, src = m.psnr[s]
        base = b.get("psnr_val" if s.endswith("valid") else "psnr_test")
        rows.append({"component": f"PSNR {s} (dB)", "model": value, "baseline": base,
                     "rule": f">= {threshold:.2f}: {'pass' if value >= threshold else 'FAIL'}", "source": src})
    passed = all(m.psnr[s][0] >= t for s, t in ch.gate.items())
    c = m.counts
    runtime_label = ""
    if m.runtime_ms is not None:
        if not m.runtime_device:
            raise SrbenchError("--runtime-ms needs --runtime-device (the GPU it was measured on)")
        if m.baseline_runtime_ms is None and not same_device(m.runtime_device, ch.device):
            if ch.ranking == "score":
                raise SrbenchError(
                    f"the runtime was measured on {m.runtime_device}, the {ch.title} baseline's "
                    f"{b['runtime_ms']} ms on {ch.device or 'an unknown GPU'}: pass --baseline-runtime-ms measured "
                    f"on {m.runtime_device} too (never mixed across GPUs)")
        runtime_label = (f"given, {m.runtime_device}" + ("" if m.baseline_runtime_ms is None else
                         "; baseline given on the same GPU"))
    elif ch.ranking == "score":
        raise SrbenchError(f"{ch.title} scores runtime (70-80% of the final score): pass --runtime-ms and "
                           f"--runtime-device (e.g. from 'srbench profile --runtime --runtime-method ntire "
                           f"--device cuda')")
    base_runtime = m.baseline_runtime_ms if m.baseline_runtime_ms is not None else b.get("runtime_ms")
    scores = (final_score(ch, m.runtime_ms, c["flops_g"], c["params_m"], m.baseline_runtime_ms)
              if ch.ranking == "score" else {})

    def rule(key):
        if key not in scores:
            return ""
        return f"Score = exp(2 x / baseline) = {scores[key]:.4f} (weight {ch.weights[key]})"

    counter = f"srbench profile --convention {ch.counter}"
    rows += [
        {"component": "runtime (ms)", "model": m.runtime_ms, "baseline": base_runtime, "rule": rule("runtime"),
         "source": runtime_label or "not given"},
        {"component": "FLOPs (G)", "model": c["flops_g"], "baseline": b.get("flops_g"), "rule": rule("flops"),
         "source": counter},
        {"component": "params (M)", "model": c["params_m"], "baseline": b.get("params_m"), "rule": rule("params"),
         "source": counter},
        {"component": "activations (M)", "model": c["activations_m"], "baseline": b.get("activations_m"), "rule": "",
         "source": counter},
        {"component": "#conv", "model": c["conv"], "baseline": b.get("conv"), "rule": "", "source": counter},
    ]
    summary = {"year": ch.year, "challenge": ch.title, "model": model, "gate_passed": passed,
               "runtime_device": m.runtime_device or None, "challenge_device": ch.device or None,
               "runtime_same_gpu_baseline": m.baseline_runtime_ms is not None,
               "scores": scores or None, "ranking": ch.ranking, "ranks": ch.ranks or None, "source": ch.source}
    if scores:
        rows.append({"component": "Score_Final", "model": scores["final"], "baseline": b.get("score"),
                     "rule": " + ".join(f"{ch.weights[k]} Score_{k}" for k in ("runtime", "flops", "params"))
                     + ("" if passed else "; excluded: PSNR below the gate"), "source": "lower is better"})
    return rows, summary


__all__ = ["Challenge", "Measured", "challenges", "get_challenge", "score_x", "final_score", "same_device",
           "counts", "psnr_from_results", "score_table"]
