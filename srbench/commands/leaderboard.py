"""``srbench leaderboard``: regenerate the markdown leaderboards (and plots) from result files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="leaderboards/results", help="result files or folder (default leaderboards/results)")
    p.add_argument("--out", default="leaderboards", help="output folder (default leaderboards/)")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed markdown is stale; write nothing")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG/SVG plots")


def run(args) -> int:
    from srbench.errors import SrbenchError
    from srbench.report import leaderboard
    from srbench.report.tables import group
    from srbench.store.files import write_text
    from srbench.store.results import load_result_files

    results = load_result_files(args.results)
    if not results:
        raise SrbenchError(f"no result files in {args.results}; run 'srbench run ... --out {args.results}' first")
    files = leaderboard.build(results)
    out = Path(args.out)
    if args.check:
        stale = [name for name, text in files.items() if not (out / name).exists() or (out / name).read_text() != text]
        for name in stale:
            print(f"stale: {out / name}")
        if stale:
            print(f"{len(stale)} leaderboard file(s) out of date: run 'srbench leaderboard --results {args.results} --out {args.out}'")
            return 1
        print(f"leaderboards up to date ({len(files)} files)")
        return 0
    for name, text in files.items():
        write_text(out / name, text)
    if not args.no_plots:
        from srbench.report.plots import draw_all

        draw_all([t for t in group(results) if t.precision == "fp32"], out)
    log.info("wrote %d markdown files to %s", len(files), out)
    print("\n".join(str(out / n) for n in files))
    return 0
