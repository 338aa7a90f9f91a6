"""``srbench certify``: every certified metric recomputed on its reference inputs against the official
values. Exit 0 pass, 1 a metric outside its tolerance, 2 bad input."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", help="comma-separated metrics (default: every certified metric)")
    p.add_argument("--device", default="cpu", help="torch device for network metrics (default cpu)")
    p.add_argument("--format", choices=("table", "json"), default="table")


def _figure(x, relative: bool) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.4f}%" if relative else f"{x:.6f}"


def run(args) -> int:
    from srbench.commands._common import split_list
    from srbench.eval.certify import certify
    from srbench.metrics.registry import get_metric
    from srbench.store.results import dumps

    names = None if args.metrics is None else [get_metric(m).name for m in split_list(args.metrics, "--metrics")]
    reports = certify(names, args.device)
    if args.format == "json":
        print(dumps({"certificates": reports}))
    else:
        lines = [f"{'metric':<11} {'status':<7} {'images':>6} {'max |delta|':>12} {'tolerance':>10}  notes"]
        for r in reports:
            rel = r["relative"]
            if r["status"] == "skipped":
                note = r["reason"]
            else:
                note = ("ill-conditioned (reported, not judged): " + ", ".join(
                    f"{row['image']} {_figure(row['delta'], rel)}" for row in r["rows"] if row["flagged"])
                    if r["flagged"] else "")
            lines.append(f"{r['metric']:<11} {r['status']:<7} {len(r['rows']):>6} "
                         f"{_figure(r.get('max_abs_delta'), rel):>12} {_figure(r['tolerance'], rel):>10}  {note}")
        lines.append(f"certificate v{reports[0]['version'] if reports else '?'}; sources in srbench/metrics/certificates.toml")
        print("\n".join(lines))
    return 1 if any(r["status"] == "FAIL" for r in reports) else 0
