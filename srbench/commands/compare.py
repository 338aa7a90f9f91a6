"""``srbench compare A B``: is A better than B, per set and metric (paired over the same images)?

A and B are result files or model names looked up in ``--results``; the statistics are
:func:`srbench.compare`'s (``srbench/report/significance.py``), and ``--format json`` prints its numbers.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from srbench.commands._common import add_format, parse_scales, split_list
from srbench.errors import SrbenchError
from srbench.report.formatting import render
from srbench.report.significance import CONFIDENCE, N_RESAMPLES, SEED

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="a result file, or a model name looked up in --results")
    p.add_argument("b", metavar="B", help="a result file, or a model name looked up in --results")
    add_selection(p)
    p.add_argument("--metrics", help="metrics to compare, comma-separated (default: every metric both results hold)")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES, help=f"bootstrap resamples (default {N_RESAMPLES})")
    p.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default {SEED})")
    p.add_argument("--confidence", type=float, default=CONFIDENCE, help=f"confidence level (default {CONFIDENCE})")
    p.add_argument("--run-missing", action="store_true", help="evaluate model B where it has no result under A's "
                   "protocol, precision and metrics, into --results (needs the set's images and B's weights)")
    p.add_argument("--data-root", help="dataset root for --run-missing")
    p.add_argument("--device", default="cpu", help="device for --run-missing (default cpu)")
    p.add_argument("--workers", type=int, default=1, help="worker processes for --run-missing (default 1)")
    add_format(p)


def add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="sets", help="set(s), comma-separated (default: every set of A)")
    p.add_argument("--scale", help="scale (default: every scale of A)")
    p.add_argument("--protocol", help="protocol name, when the results hold several (e.g. matlab)")
    p.add_argument("--precision", help="precision of results looked up by model name (default fp32)")
    p.add_argument("--results", default="results", help="result files or folder for model names (default results/)")


def select(arg: str, args, what: str, precision_default: str | None = "fp32", allow_empty: bool = False) -> list[dict]:
    """The results ``arg`` names (a result file, or a model in ``args.results``), narrowed by
    --set / --scale / --protocol / --precision (results looked up by name: ``precision_default``);
    none is an error unless ``allow_empty``."""
    from srbench.store.results import load_results

    sets = split_list(args.sets, "--set") if args.sets is not None else None
    scales = parse_scales(args.scale) if args.scale is not None else None
    path = Path(arg)
    if _is_file(arg):
        docs = load_results(path)
        precision = args.precision
        where = str(path)
    else:
        docs = [d for d in load_results(args.results) if d["model"].lower() == arg.lower()] \
            if Path(args.results).exists() or not allow_empty else []
        precision = args.precision or precision_default
        where = f"{args.results} for model '{arg}'"
        if not docs and not allow_empty:
            raise SrbenchError(f"no results in {where}; give a result file or --results DIR, or run "
                               f"'srbench run --model {arg} ... --out {args.results}' first"
                               + (" (--run-missing runs B)" if what == "B" else ""))
    docs = [d for d in docs
            if (sets is None or d["dataset"] in sets) and (scales is None or int(d["scale"]) in scales)
            and (args.protocol is None or d["protocol"]["name"] == args.protocol)
            and (precision is None or _precision(d) == precision)]
    if not docs and not allow_empty:
        wanted = ", ".join(f"{k} {v}" for k, v in (("set", args.sets), ("scale", args.scale), ("protocol", args.protocol),
                                                   ("precision", precision)) if v)
        raise SrbenchError(f"no result of {what} in {where} matches {wanted or 'the selection'}; "
                           f"run 'srbench run ... --out {args.results}' first, or change the selection")
    return docs


def _is_file(arg: str) -> bool:
    return arg.endswith(".json") or Path(arg).is_file()


def _precision(d: dict) -> str:
    return d.get("provenance", {}).get("precision", "fp32")


def _key(d: dict) -> tuple:
    return d["dataset"], int(d["scale"]), f"{d['protocol']['name']}@{d['protocol']['version']}", _precision(d)


def _kinds(docs: list[dict]) -> str:
    return ", ".join(sorted({f"{d['protocol']['name']}/{_precision(d)}"
                             + (f"/limit {d['identity']['limit']}" if d.get("identity", {}).get("limit") else "")
                             for d in docs}))


def pairs(args) -> tuple[list[tuple[dict, dict]], list[str]]:
    """(A, B) result pairs, one per set and scale of A, B taken under A's protocol and precision, and
    the sets and scales B lacks (an error when --set and --scale named them); several results of one
    side for a set and scale are an error asking for a narrower selection."""
    from srbench.report.tables import set_order

    run_b = getattr(args, "run_missing", False)
    if run_b and _is_file(args.b):
        raise SrbenchError("--run-missing runs model B by name; B is a result file")
    side_a = select(args.a, args, "A")
    side_b = select(args.b, args, "B", precision_default=None, allow_empty=run_b)
    if len(side_a) == len(side_b) == 1 and all(_is_file(x) for x in (args.a, args.b)):
        return [(side_a[0], side_b[0])], []  # two result files: compared as given (or refused, saying why)
    out, skipped = [], []
    for key in sorted({_key(d)[:2] for d in side_a}, key=lambda k: (set_order(k[0]), k[1])):
        cands_a = [d for d in side_a if _key(d)[:2] == key]
        if len(cands_a) > 1:
            raise SrbenchError(f"A has {len(cands_a)} results for {key[0]} x{key[1]} ({_kinds(cands_a)}); "
                               "choose one with --protocol / --precision, or pass result files")
        a = cands_a[0]
        cands_b = [d for d in side_b if _key(d) == _key(a)]
        if not cands_b and run_b:
            cands_b = [_run_missing(args, a)]
        if not cands_b and not (args.sets and args.scale):
            skipped.append(f"{key[0]} x{key[1]}")  # not asked for by name: reported, not an error
            continue
        if not cands_b:
            others = [d for d in side_b if _key(d)[:2] == key]
            raise SrbenchError(f"no result of B ({args.b}) for {key[0]} x{key[1]} under A's protocol and precision "
                               f"({_kinds([a])})" + (f"; B has {_kinds(others)}" if others else "")
                               + "; run it first (--run-missing runs B), or narrow --set / --scale")
        if len(cands_b) > 1:
            raise SrbenchError(f"B has {len(cands_b)} results for {key[0]} x{key[1]} ({_kinds(cands_b)}); "
                               "pass result files to choose")
        out.append((a, cands_b[0]))
    if skipped and not out:
        raise SrbenchError(f"A ({args.a}) and B ({args.b}) share no set and scale under one protocol and precision "
                               f"(A has {', '.join(skipped)}); run B there first")
    return out, skipped


def _run_missing(args, a: dict) -> dict:
    """Model B evaluated like result A (set, scale, protocol, precision, limit, metrics), written to --results."""
    from srbench.eval.driver import evaluate

    log.info("running %s on %s x%s (protocol %s, %s) into %s", args.b, a["dataset"], a["scale"], a["protocol"]["name"],
             _precision(a), args.results)
    return evaluate(args.b, a["dataset"], int(a["scale"]), protocol=a["protocol"]["name"], metrics=list(a["metrics"]),
                    data_root=args.data_root, device=args.device, precision=_precision(a),
                    limit=(a.get("identity") or {}).get("limit"), out_dir=args.results, resume=True,
                    workers=args.workers, progress=True)


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}"


def table_rows(comps, raw: bool = False) -> list[dict]:
    from srbench.report.significance import decimals

    rows = []
    for c in comps:
        for m in c.metrics:
            d = decimals(m.fmt)
            dfmt = f".{d + 1}f" if d is not None else ".5g"

            def f(v, fmt):
                return v if raw else format(v, fmt)

            rows.append({
                "set": c.dataset, "scale": f"x{c.scale}", "metric": f"{m.title} {m.arrow}", "n": m.n,
                "A": f(m.mean_a, m.fmt), "B": f(m.mean_b, m.fmt), "Δ A−B": f(m.diff, "+" + dfmt),
                f"{c.confidence:.0%} CI": (m.ci_low, m.ci_high) if raw else
                f"[{m.ci_low:+{dfmt}}, {m.ci_high:+{dfmt}}]",
                "p (Wilcoxon)": m.p_value if raw else _p(m.p_value),
                "A wins/ties/losses": f"{m.wins}/{m.ties}/{m.losses}", "verdict": c.verdict(m.metric)})
    return rows


def run(args) -> int:
    from srbench.report.significance import compare

    metrics = split_list(args.metrics, "--metrics") if args.metrics is not None else None
    todo, skipped = pairs(args)
    comps = [compare(a, b, metrics, n_resamples=args.resamples, seed=args.seed, confidence=args.confidence)
             for a, b in todo]
    if skipped:
        log.warning("not compared (no result of B under A's protocol and precision): %s", ", ".join(skipped))
    if args.format == "json":
        print(render([], "json", json_doc={"comparisons": [c.to_dict() for c in comps]}))
        return 0
    rows = table_rows(comps, raw=args.format == "csv")
    if args.format == "csv":
        for r in rows:
            lo, hi = r.pop(f"{comps[0].confidence:.0%} CI")
            r["ci_low"], r["ci_high"] = lo, hi
    print(render(rows, args.format))
    if args.format in ("table", "markdown"):
        c = comps[0]
        print(f"\nA = {c.model_a}, B = {c.model_b}; protocol {c.protocol}, {c.precision}; images paired by name.\n"
              f"A and B: set means at the leaderboard precision; Δ (mean of per-image A − B) and its CI one decimal "
              f"more; CI: paired bootstrap percentile interval ({c.n_resamples:,} resamples, seed {c.seed}); "
              f"p: two-sided Wilcoxon signed-rank, 3 significant digits; ties: |A − B| rounds to 0 at the "
              f"leaderboard precision.\nA difference is significant when the CI excludes 0 and "
              f"p < {1 - c.confidence:.2g}; no correction for multiple comparisons.")
    return 0
