"""``srbench score``: score a folder of precomputed SR images under any protocol (see srbench/eval/score.py)."""

from __future__ import annotations

import argparse
import logging

from srbench.commands._common import (
    add_execution,
    add_format,
    command_line,
    parse_scales,
    print_results,
    split_list,
)

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sr", required=True, help="folder of SR images named like the set's images "
                   "(img_001.png, img_001_x4.png, img_001x4.png, img_001_SR.png, img_001_x4_SR.png)")
    p.add_argument("--set", dest="dataset", required=True, help="the set the images belong to (or folder:PATH)")
    p.add_argument("--scale", required=True, help="the scale the images were made at")
    p.add_argument("--label", help="name of the method in results (default: the folder name)")
    p.add_argument("--protocol", help="protocol (default matlab, the canonical one)")
    p.add_argument("--metrics", default="psnr,ssim", help="comma-separated metrics (default psnr,ssim)")
    p.add_argument("--data-root", help="folder holding the sets")
    p.add_argument("--device", default="cpu", help="device of network metrics (LPIPS): cpu, cuda, auto")
    p.add_argument("--allow-missing", action="store_true",
                   help="score the images present (a subset result, kept out of leaderboards); ignore extra files")
    p.add_argument("--out", default="results", help="folder for result JSON files (default results/)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    add_execution(p)
    add_format(p)


def run(args) -> int:
    from srbench.commands._common import executor_from_args
    from srbench.errors import SrbenchError
    from srbench.eval.driver import run_plan
    from srbench.eval.progress import progress_bar
    from srbench.eval.score import score_plan

    scales = parse_scales(args.scale)
    if len(scales) != 1:
        raise SrbenchError("--scale takes one scale for a folder of SR images")
    plan = score_plan(args.sr, args.dataset, scales[0], label=args.label, protocol=args.protocol,
                      metrics=split_list(args.metrics, "--metrics"), data_root=args.data_root, device=args.device,
                      allow_missing=args.allow_missing)
    with executor_from_args(args) as executor, progress_bar(len(plan.samples), "images") as bar:
        doc = run_plan(plan, out_dir=args.out, resume=args.resume, executor=executor, on_images=bar.update,
                       command=command_line())
    if not doc["provenance"]["dataset"]["complete"]:
        log.warning("%s: %d of %d images scored (a subset: not comparable with full-set results)",
                    plan.label, doc["n_images"], doc["provenance"]["dataset"]["n_images"])
    print_results([doc], args.format)
    return 0
