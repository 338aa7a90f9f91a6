"""``srbench leaderboard``: regenerate the markdown leaderboards (and plots) from result files."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="leaderboards/results", help="result files or folder (default leaderboards/results)")
    p.add_argument("--out", default="leaderboards", help="output folder (default leaderboards/)")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed markdown is stale; write nothing")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG/SVG plots")


def run(args) -> int:
    from srbench.errors import SrbenchError
    from srbench.models.references import catalog
    from srbench.report import leaderboard
    from srbench.store.results import load_result_files

    results = load_result_files(args.results)
    if not results:
        raise SrbenchError(f"no result files in {args.results}; run 'srbench run ... --out {args.results}' first")
    if args.check:
        files = leaderboard.build(results, catalog())
        stale = leaderboard.stale(files, args.out)
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print(f"{len(stale)} leaderboard file(s) out of date: run 'srbench leaderboard --results {args.results} --out {args.out}'")
            return 1
        print(f"leaderboards up to date ({len(files)} files)")
        return 0
    written = leaderboard.publish(results, args.out, catalog(), plots=not args.no_plots)
    log.info("wrote %d markdown files to %s", len(written), args.out)
    print("\n".join(str(p) for p in written))
    return 0
