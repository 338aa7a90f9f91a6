"""``srbench worst --model A [--reference B] --set S --scale s``: the images where A loses most to B
(or scores worst), from result files; ``--grid`` draws them through ``compare-visual``'s code, each
crop where A's and B's error maps differ most. The ranking is :func:`srbench.report.worst.worst`'s."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from srbench.commands._common import add_format, split_list
from srbench.errors import SrbenchError
from srbench.report.formatting import render

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="A: a result file, or a model name looked up in --results")
    p.add_argument("--reference", help="B: a result file or model name (default: rank A's own worst images)")
    p.add_argument("--set", dest="sets", required=True, help="the set")
    p.add_argument("--scale", required=True, help="the scale")
    p.add_argument("--protocol", help="protocol name, when the results hold several (e.g. matlab)")
    p.add_argument("--precision", help="precision of results looked up by model name (default fp32)")
    p.add_argument("--results", default="results", help="result files or folder for model names (default results/)")
    p.add_argument("-k", type=int, default=10, help="how many images (default 10)")
    p.add_argument("--metric", default="psnr", help="the ranking metric (default psnr)")
    p.add_argument("--metrics", help="metrics shown and flagged, comma-separated (default: all both results hold)")
    p.add_argument("--grid", metavar="PNG", help="also draw a crop grid of the first --grid-images images "
                   "(re-runs the zoo models on them; needs the set's images and weights)")
    p.add_argument("--grid-images", type=int, default=3, help="images in the grid (default 3)")
    p.add_argument("--crop", type=int, default=96, help="crop size in HR pixels for the grid (default 96)")
    p.add_argument("--data-root")
    p.add_argument("--device", default="cpu")
    add_format(p)


def _docs(args) -> tuple[dict, dict | None]:
    from srbench.commands.compare import pairs, select

    if args.reference is None:
        docs = select(args.model, args, "the model")
        if len(docs) > 1:
            raise SrbenchError(f"{len(docs)} results of {args.model} for {args.sets} x{args.scale}; choose one with "
                               "--protocol / --precision, or pass a result file")
        return docs[0], None
    args.a, args.b = args.model, args.reference
    return pairs(args)[0][0]


def run(args) -> int:
    from srbench.report.significance import _spec, decimals
    from srbench.report.worst import worst

    if len(split_list(args.sets, "--set")) != 1:
        raise SrbenchError("--set takes one set")
    doc_a, doc_b = _docs(args)
    metrics = split_list(args.metrics, "--metrics") if args.metrics is not None else None
    report = worst(doc_a, doc_b, args.metric, args.k, metrics)
    if args.grid and args.grid_images < 1:
        raise SrbenchError(f"--grid-images must be at least 1, got {args.grid_images}")
    if args.format == "json":
        print(render([], "json", json_doc=report.to_dict()))
    else:
        raw = args.format == "csv"

        def f(v, fmt):
            return v if raw or v is None else format(v, fmt)

        specs = {m: _spec(doc_a, m) for m in report.metrics}
        dfmt = {m: f"+.{decimals(s[3]) + 1}f" if decimals(s[3]) is not None else "+.5g" for m, s in specs.items()}
        base = "B" if doc_b is not None else "median"
        title = specs[report.metric][0]
        rows = []
        for r in report.images:
            row = {"rank": r.rank, "image": r.name, f"A {title}": f(r.value, specs[report.metric][3])}
            if doc_b is not None:
                row[f"B {title}"] = f(r.reference, specs[report.metric][3])
            row[f"A loss ({title})"] = f(r.loss, dfmt[report.metric].lstrip("+"))
            row.update({f"Δ{specs[m][0]} A−{base}": f(r.deltas[m], dfmt[m]) for m in report.metrics if m != report.metric})
            row["NR/FR disagree"] = ", ".join(r.disagree)
            rows.append(row)
        print(render(rows, args.format))
        if args.format in ("table", "markdown"):
            against = f"B = {report.reference}" if doc_b is not None else "A's median image"
            print(f"\nA = {report.model}; {report.dataset} x{report.scale}, protocol {report.protocol}; the {len(rows)} of "
                  f"{report.n_images} images where A is worst against {against} in {title} "
                  f"({'higher' if report.higher_is_better else 'lower'} is better). Values at the leaderboard precision, "
                  "differences one decimal more. NR/FR disagree: a no-reference and a full-reference metric say "
                  f"opposite things about A there (against {'B' if doc_b is not None else 'the median'}).")
    if args.grid:
        from srbench.eval.visual import draw_worst_grid

        out = draw_worst_grid(report, doc_a, doc_b, Path(args.grid), args.grid_images, args.crop, args.data_root,
                              args.device)
        log.info("wrote %s", out)
    return 0
