"""Speed of the paired statistics on one core (report only; target: all zoo models pairwise on
Urban100 x4 for 4 metrics in under 10 s).

    python benchmarks/bench_compare.py [--results leaderboards/results] [--models 17] [--rounds 3]

Takes the committed fp32 Urban100 x4 results of the protocol with the most models (``matlab``: 12),
and times, with 10,000 bootstrap resamples and the Wilcoxon test per pair and metric (PSNR, SSIM,
LPIPS, NIQE):
- ``compare_all``: every pair at once (what the leaderboard uses; one resample matrix, one matrix
  product per metric);
- ``compare`` per pair: what ``srbench compare A B`` does for each pair;
both for the committed models and for --models models, the committed ones topped up with relabelled
copies (the per-pair work does not depend on the values). numpy/BLAS use one thread; scipy's import
is timed apart. Times are the best of --rounds, wall and process CPU seconds.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads its thread pool

import argparse
import copy
import itertools
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

METRICS = ["psnr", "ssim", "lpips", "niqe"]


def best_of(rounds: int, fn) -> tuple[object, float, float]:
    walls, cpus, value = [], [], None
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return value, min(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(REPO / "leaderboards" / "results"))
    parser.add_argument("--models", type=int, default=17, help="models in the scaled-up case (default 17)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from srbench.report.tables import eligible
    from srbench.store.results import load_results

    t = time.perf_counter()
    import scipy.stats  # noqa: F401

    print(f"scipy.stats import: {time.perf_counter() - t:.2f} s (once per process)")
    from srbench.report.significance import compare, compare_all

    docs = [d for d in load_results(args.results)
            if d["dataset"] == "urban100" and d["scale"] == 4 and eligible(d) == "fp32"
            and all(m in d["metrics"] for m in METRICS)]
    protocol, _ = Counter(d["protocol"]["name"] for d in docs).most_common(1)[0]
    docs = sorted((d for d in docs if d["protocol"]["name"] == protocol), key=lambda d: d["model"])
    scaled = list(docs)
    for i in itertools.count():
        if len(scaled) >= args.models:
            break
        extra = copy.deepcopy(docs[i % len(docs)])
        extra["model"] = f"{extra['model']}-copy{i}"
        scaled.append(extra)
    print(f"Urban100 x4, protocol {protocol}, metrics {', '.join(METRICS)}, 10,000 resamples, one thread, "
          f"best of {args.rounds}")
    print(f"{'case':50} {'pairs':>5} {'wall s':>7} {'CPU s':>7}")
    for name, group in ((f"{len(docs)} committed models", docs), (f"{len(scaled)} models (committed + copies)", scaled)):
        pairs = len(group) * (len(group) - 1) // 2
        comps, wall, cpu = best_of(args.rounds, lambda g=group: compare_all(g, METRICS))
        print(f"{'compare_all, ' + name:50} {pairs:>5} {wall:>7.2f} {cpu:>7.2f}")
        _, wall, cpu = best_of(args.rounds, lambda g=group: [compare(a, b, METRICS)
                                                             for a, b in itertools.combinations(g, 2)])
        print(f"{'compare per pair, ' + name:50} {pairs:>5} {wall:>7.2f} {cpu:>7.2f}")
    significant = sum(m.significant for c in comps for m in c.metrics)
    print(f"(last case: {significant} of {len(comps) * len(METRICS)} pair-metrics significant at 95%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
