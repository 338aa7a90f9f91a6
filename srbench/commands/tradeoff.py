"""``srbench tradeoff``: Mult-Adds and parameters saved per 0.01 dB of PSNR loss against a reference
model (the ICLR 2019 efficiency study's metrics), from result files. See ``srbench/report/tradeoff.py``."""

from __future__ import annotations

import argparse

from srbench.commands._common import add_format, parse_scales, split_list
from srbench.errors import SrbenchError
from srbench.report.formatting import render


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference", required=True, help="the uncompressed model the others are compared with")
    p.add_argument("--models", required=True, help="models to compare, comma-separated")
    p.add_argument("--scale", required=True, help="one scale, e.g. 4")
    p.add_argument("--results", default="results", help="result files or folder (default results/)")
    p.add_argument("--protocol", help="protocol name, when the results hold several (e.g. matlab)")
    p.add_argument("--precision", help="only results of this precision: fp32, fp16, bf16, int8 or 'int8 RECIPE' "
                                       "(precisions are never ranked together)")
    add_format(p)


def run(args) -> int:
    from srbench.models.references import catalog
    from srbench.report.precision import select_precision
    from srbench.report.tables import eligible, with_counts
    from srbench.report.tradeoff import TRADEOFF_SETS, tradeoff_table
    from srbench.store.results import load_results

    scales = parse_scales(args.scale)
    if len(scales) != 1:
        raise SrbenchError("--scale takes one scale: the PSNR loss is summed over the four sets at that scale")
    models = split_list(args.models, "--models")
    if not models:
        raise SrbenchError("--models names no model")
    zoo = catalog()  # counts of zoo models whose results carry none
    docs = [with_counts(d, zoo) for d in load_results(args.results) if eligible(d)]
    rows, key = tradeoff_table(select_precision(docs, args.precision), args.reference, models, scales[0], args.protocol)
    if args.format == "json":
        print(render([], "json", json_doc=rows))
        return 0
    raw = args.format == "csv"
    cols = ["model", "params (K)", "Mult-Adds hr720 (G)", *[f"{ds} PSNR" for ds in TRADEOFF_SETS],
            "PSNR loss (dB, sum)", "Mult-Adds saved per 0.01 dB (G)", "params saved per 0.01 dB (K)"]

    def f(v, fmt):
        return v if raw or v is None else format(v, fmt)

    out = []
    for r in rows:
        row = {"model": r["model"] + (" (reference)" if r["model"] == args.reference else ""),
               "params (K)": f(r.get("params") and r["params"] / 1000, ".1f"),
               "Mult-Adds hr720 (G)": f(r.get("macs_g"), ".2f"),
               "PSNR loss (dB, sum)": f(r.get("psnr_loss_db"), ".4f"),
               "Mult-Adds saved per 0.01 dB (G)": f(r.get("macs_saved_g_per_001db"), ".4f"),
               "params saved per 0.01 dB (K)": f(r.get("params_saved_k_per_001db"), ".4f")}
        row.update({f"{ds} PSNR": f(r["psnr"][ds], ".4f") for ds in TRADEOFF_SETS})
        out.append(row)
    print(render(out, args.format, columns=cols))
    if args.format == "table":
        print(f"\nx{scales[0]}, protocol {key.protocol}, {key.precision}; PSNR loss = sum over {', '.join(TRADEOFF_SETS)} "
              f"of reference minus model; savings per 0.01 dB of that loss (ICLR 2019 efficiency study)")
        for r in rows:
            if r["missing"]:
                print(f"note ({r['model']}): no result for {', '.join(r['missing'])} under this protocol")
            elif r["model"] != args.reference and r.get("psnr_loss_db", 1) <= 0:
                print(f"note ({r['model']}): no PSNR loss against the reference; savings per 0.01 dB undefined")
    return 0
