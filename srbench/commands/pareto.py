"""``srbench pareto``: which models are Pareto-dominated in (PSNR or SSIM up, Mult-Adds down, params
down), per set and scale, as FALSR reports it, with optional constraints. See ``srbench/report/tradeoff.py``."""

from __future__ import annotations

import argparse

from srbench.commands._common import add_format, parse_scales, split_list
from srbench.report.formatting import render


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="results", help="result files or folder (default results/)")
    p.add_argument("--metric", default="psnr", choices=("psnr", "ssim"), help="quality measure (higher is better)")
    p.add_argument("--max-multadds", help="drop models above this many Mult-Adds (the results' convention, hr720), e.g. 10G or 500M")
    p.add_argument("--max-params", help="drop models above this many parameters, e.g. 500K or 1.2M")
    p.add_argument("--models", help="only these models, comma-separated")
    p.add_argument("--set", dest="sets", help="only these sets, comma-separated")
    p.add_argument("--scale", help="only these scales, e.g. 2,4")
    p.add_argument("--precision", help="only results of this precision: fp32, fp16, bf16, int8 or 'int8 RECIPE' "
                                       "(precisions are never ranked together)")
    add_format(p)


def run(args) -> int:
    from srbench.errors import SrbenchError
    from srbench.models.references import catalog
    from srbench.report.precision import select_precision
    from srbench.report.tables import eligible, with_counts
    from srbench.report.tradeoff import pareto_table, parse_amount
    from srbench.store.results import load_results

    max_macs = parse_amount(args.max_multadds, "G") if args.max_multadds else None
    max_params = parse_amount(args.max_params, "") if args.max_params else None
    zoo = catalog()  # counts of zoo models whose results carry none
    docs = [with_counts(d, zoo) for d in load_results(args.results) if eligible(d)]
    if not docs:
        raise SrbenchError(f"no whole-set fp32 results in {args.results}: run 'srbench run' (or a sweep) first")
    rows = pareto_table(select_precision(docs, args.precision), args.metric, max_macs, max_params,
                        split_list(args.models, "--models") if args.models else None,
                        split_list(args.sets, "--sets") if args.sets else None, parse_scales(args.scale) or None)
    if args.format == "json":
        print(render([], "json", json_doc=rows))
        return 0
    raw = args.format == "csv"
    q = args.metric.upper()
    cols = ["set", "scale", "protocol", "model", q, "Mult-Adds (G)", "params (K)", "Pareto-optimal", "dominated by"]
    out = [{
        "set": r["dataset"], "scale": r["scale"], "protocol": r["protocol"] + ("" if r["precision"] == "fp32" else f" {r['precision']}"),
        "model": r["model"], q: r[args.metric] if raw else format(r[args.metric], ".4f"),
        "Mult-Adds (G)": (r["macs_g"] if raw else format(r["macs_g"], ".2f") + ("" if r["macs_convention"] == "hr720" else f" {r['macs_convention']}")),
        "params (K)": r["params"] / 1000 if raw else format(r["params"] / 1000, ".1f"),
        "Pareto-optimal": "yes" if r["pareto_optimal"] else "no",
        "dominated by": ", ".join(r["dominated_by"]),
    } for r in rows]
    print(render(out, args.format, columns=cols))
    if args.format == "table":
        limits = [f"Mult-Adds <= {max_macs:g} G" for _ in [0] if max_macs is not None] + \
                 [f"params <= {max_params:,.0f}" for _ in [0] if max_params is not None]
        print(f"\ndominated: another model has {q} >= and Mult-Adds <= and params <=, one of them strictly; "
              "Mult-Adds as recorded in the results (hr720 unless marked)"
              + (f"; constraints: {', '.join(limits)}" if limits else ""))
    return 0
