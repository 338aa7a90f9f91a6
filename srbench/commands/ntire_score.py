"""``srbench ntire-score``: one x4 model scored as an NTIRE efficient-SR challenge of a given year scored
it (baseline, counter, PSNR gate, weights: srbench/cost/ntire_esr.toml). See ``srbench/cost/ntire_score.py``."""

from __future__ import annotations

import argparse

from srbench.commands._common import add_format, split_list
from srbench.errors import SrbenchError
from srbench.report.formatting import render


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, required=True, help="challenge year: 2022, 2023, 2024, 2025 or 2026")
    p.add_argument("--model", required=True, help="zoo model (x4), e.g. rlfn")
    p.add_argument("--results", help="result files or folder holding the model's ntire-esr PSNR on the gate's sets")
    p.add_argument("--psnr", help="PSNR given instead of results, SET=DB,... (e.g. div2k-lsdir-valid=26.96)")
    p.add_argument("--runtime-ms", type=float, help="mean per-image runtime (ms) as the challenge measures it")
    p.add_argument("--runtime-device", default="", help="the GPU --runtime-ms was measured on")
    p.add_argument("--baseline-runtime-ms", type=float,
                   help="the year's baseline measured on the same GPU (needed when that is not the challenge's GPU)")
    add_format(p)


def _psnr(value: str | None) -> dict:
    out = {}
    for item in split_list(value, "--psnr") if value else []:
        name, _, db = item.partition("=")
        try:
            out[name.strip()] = (float(db), "given")
        except ValueError:
            raise SrbenchError(f"--psnr takes SET=DB pairs, got '{item}'") from None
    return out


def run(args) -> int:
    from srbench.cost.ntire_score import (
        Measured,
        counts,
        get_challenge,
        psnr_from_results,
        score_table,
    )
    from srbench.models.registry import get_card

    ch = get_challenge(args.year)
    for name, v in (("--runtime-ms", args.runtime_ms), ("--baseline-runtime-ms", args.baseline_runtime_ms)):
        if v is not None and not v > 0:
            raise SrbenchError(f"{name} must be a positive number of milliseconds")
    card = get_card(args.model)
    psnr = {}
    if args.results:
        from srbench.store.results import load_results

        psnr = psnr_from_results(load_results(args.results), card.name, set(ch.gate))
    psnr.update(_psnr(args.psnr))
    measured = Measured(counts(card, ch), psnr, args.runtime_ms, args.runtime_device, args.baseline_runtime_ms)
    rows, summary = score_table(ch, card.name, measured)
    if args.format == "json":
        print(render([], "json", json_doc={**summary, "rows": rows}))
        return 0
    raw = args.format == "csv"

    def f(v):
        if raw or v is None or isinstance(v, int):
            return v
        return f"{v:.4f}"

    out = [{**r, "model": f(r["model"]), "baseline": f(r["baseline"])} for r in rows]
    cols = ["component", "model", "baseline", "rule", "source"]
    print(render(out, args.format, columns=cols))
    if args.format == "table":
        print(f"\n{ch.title}: model {card.name} x4 against the baseline "
              f"{ch.baseline or ch.baseline_title} (published row; runtime on {ch.device or 'an unknown GPU'})")
        if ch.ranking == "ranks":
            print(f"ranking: {ch.ranks}; no per-model score")
        elif not summary["gate_passed"]:
            print("excluded from the ranking: PSNR below the gate")
        if summary["runtime_device"] and summary["runtime_same_gpu_baseline"]:
            print(f"runtime score: both runtimes on {summary['runtime_device']}, not the challenge's "
                  f"{ch.device}: comparable with each other only")
        if not ch.gate:
            print("PSNR gate: not known for this year (see srbench/cost/ntire_esr.toml)")
        print(f"source: {ch.source}")
    return 0
