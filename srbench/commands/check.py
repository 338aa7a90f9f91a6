"""``srbench check``: CI regression gate. Exit 0 pass, 1 drift beyond tolerance, 2 bad input."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", required=True, help="baseline JSON file or folder of them")
    p.add_argument("--results", default="results", help="result files or folder (default results/)")
    p.add_argument("--tol", help="absolute tolerances, e.g. psnr=0.01,ssim=0.0005,lpips=0.002")


def run(args) -> int:
    from srbench.report.gate import check

    text, ok = check(args.baseline, args.results, args.tol)
    print(text)
    return 0 if ok else 1
