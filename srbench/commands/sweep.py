"""``srbench sweep PLAN.toml``: a plan of models x sets x scales x protocols x metrics as one resumable
job on the chosen executor, then the plan's leaderboard, baseline and comparison steps (srbench/eval/sweep.py)."""

from __future__ import annotations

import argparse
import logging

from srbench.commands._common import add_execution

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", help="plan file (TOML), e.g. leaderboards/plan.toml")
    p.add_argument("--data-root", help="folder holding the sets (default: the plan's data_root, $SRBENCH_DATA, ...)")
    p.add_argument("--dry-run", action="store_true", help="validate the plan and list its results; run nothing")
    p.add_argument("--prune", action="store_true",
                   help="delete result files in the plan's out folder that the plan does not produce")
    p.add_argument("--no-finish", action="store_true", help="skip the plan's leaderboard/baseline/compare steps")
    add_execution(p)


def run(args) -> int:
    from srbench.commands._common import executor_from_args
    from srbench.eval.progress import progress_bar
    from srbench.eval.sweep import expand, finish, read_plan, run_sweep

    sweep = read_plan(args.plan)
    plans = expand(sweep, args.data_root)
    if args.dry_run:
        for p in plans:
            print(f"{p.stem}  {len(p.samples)} images  {','.join(p.metric_names)}")
        print(f"{len(plans)} results, {sum(len(p.samples) for p in plans)} images")
        return 0
    if args.prune:
        _prune(sweep.out, {p.key for p in plans})
    with executor_from_args(args) as executor, progress_bar(sum(len(p.samples) for p in plans), "images") as bar:
        run_sweep(sweep, executor, args.data_root, on_images=bar.update)
    if not args.no_finish:
        for path in finish(sweep, args.data_root):
            log.info("wrote %s", path)
    print(f"{len(plans)} results in {sweep.out}")
    return 0


def _prune(out, keys: set) -> None:
    from srbench.store.results import load_result_files

    if not out.is_dir():
        return
    for path, doc in load_result_files(out):
        if doc.get("identity_key") not in keys:
            log.info("pruning %s (not produced by this plan)", path.name)
            path.unlink()
