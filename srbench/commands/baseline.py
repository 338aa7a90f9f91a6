"""``srbench baseline``: write a regression baseline from result files."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="results", help="result files or folder (default results/)")
    p.add_argument("--out", required=True, help="baseline JSON file to write")


def run(args) -> int:
    from srbench.errors import SrbenchError
    from srbench.report.gate import make_baseline
    from srbench.store.results import load_results, write_json_atomic

    docs = load_results(args.results)
    if not docs:
        raise SrbenchError(f"no result files in {args.results}")
    doc = make_baseline(docs, command="srbench " + shlex.join(sys.argv[1:]))
    write_json_atomic(doc, Path(args.out))
    print(f"wrote {args.out}: {len(doc['entries'])} results")
    return 0
