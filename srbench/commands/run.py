"""``srbench run``: evaluate models on sets and scales; one result JSON per (model, set, scale, settings)."""

from __future__ import annotations

import argparse
import logging

from srbench.commands._common import (
    add_execution,
    add_format,
    command_line,
    parse_limit,
    parse_scales,
    print_results,
    split_list,
)
from srbench.errors import SrbenchError

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True,
                   help="zoo name(s), comma-separated (srbench list models), a card file PATH.toml[#NAME], "
                        "or module:builder (builder(scale=s) returns a torch module or a callable)")
    p.add_argument("--set", dest="sets", required=True, help="set(s): set5,set14,b100,urban100,div2k,demo or folder:PATH")
    p.add_argument("--scale", help="scale(s), e.g. 2,3,4 (default: the model's default scale, else all it supports)")
    p.add_argument("--metrics", help="comma-separated metrics (srbench list metrics; default: the card's, else psnr,ssim)")
    p.add_argument("--protocol", help="matlab (canonical), matlab-rgb, rounded-y, vdsr, tpsr, falsr, fsrcnn, pirm, "
                                      "or paper (the model's own); default: the card's, else matlab")
    p.add_argument("--data-root", help="folder holding the sets (default: $SRBENCH_DATA, else $SRBENCH_HOME/datasets)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16", "int8"),
                   help="inference precision (recorded; int8: post-training static quantisation on the CPU)")
    p.add_argument("--calibration-set", help="int8: the set whose LR calibrates the quantisation (default demo; "
                   "never the evaluated set)")
    p.add_argument("--calibration-images", type=int, help="int8: how many of its images (default 5)")
    from srbench.deploy.int8_recipes import (
        DEFAULT_RECIPE,
        ONNXRUNTIME_RECIPE,
        PORTABLE_DEFAULT_RECIPE,
        RECIPES,
    )

    p.add_argument("--int8-recipe", choices=tuple(RECIPES), help="int8: quantisation recipe (backend, activation "
                   f"observer and bits; docs/deploy.md has their measured losses; default {DEFAULT_RECIPE}, "
                   f"{PORTABLE_DEFAULT_RECIPE} on a CPU without VNNI)")
    p.add_argument("--backend", choices=("torch", "onnxruntime"), help="int8: the quantising route: torch (torch.ao, "
                   f"default) or onnxruntime (QDQ static quantisation of the exported graph; recipe {ONNXRUNTIME_RECIPE})")
    p.add_argument("--tile", type=int, help="run the model on LR tiles of this many pixels")
    p.add_argument("--tile-overlap", type=int, default=16, help="context pixels around each tile (default 16)")
    p.add_argument("--io", help="I/O convention of a module:builder model: colour=rgb|y,value_range=1|255,same_size=true|false")
    p.add_argument("--label", help="name of the model in results (default: its card name or module:builder)")
    p.add_argument("--out", default="results", help="folder for result JSON files (default results/)")
    p.add_argument("--save-images", action="store_true", help="also write SR images under OUT/images/")
    p.add_argument("--resume", action="store_true", help="continue interrupted runs, keep finished results")
    p.add_argument("--limit", help="only the first N images of each set (smoke tests; kept out of leaderboards)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="score a set copy with missing, extra, altered or unreadable images as a labelled subset "
                        "(kept out of leaderboards and baselines); without it such a copy is an error")
    add_execution(p)
    add_format(p)


def make_plans(args) -> list:
    """Every (model, set, scale) plan, all validated before anything runs."""
    from srbench.eval.plan import lr_cache_dir, make_plan
    from srbench.sources.resolve import resolve_source

    models, sets, scales = split_list(args.model, "--model"), split_list(args.sets, "--set"), parse_scales(args.scale)
    metrics = split_list(args.metrics, "--metrics") if args.metrics is not None else None
    limit = parse_limit(args.limit)
    calibration = {"set": args.calibration_set, "images": args.calibration_images, "recipe": args.int8_recipe}
    if args.precision != "int8" and (args.backend or any(v is not None for v in calibration.values())):
        raise SrbenchError("--calibration-set, --calibration-images, --int8-recipe and --backend go with --precision int8")
    if args.backend:
        from srbench.deploy.int8_recipes import ONNXRUNTIME_RECIPE, RECIPES

        recipe = args.int8_recipe or (ONNXRUNTIME_RECIPE if args.backend == "onnxruntime" else None)
        if recipe and (RECIPES[recipe].backend == "onnxruntime") != (args.backend == "onnxruntime"):
            raise SrbenchError(f"--int8-recipe {recipe} is not a {args.backend} recipe; leave it out or pick one of that backend")
        calibration["recipe"] = recipe
    images_dir = None
    if args.save_images:
        from pathlib import Path

        images_dir = Path(args.out) / "images"
    plans, notes = [], []
    for model in models:
        first = resolve_source(model, scales[0] if scales else None, args.label, args.io)
        card = first.card
        model_scales = scales or (card.default_scales() if card is not None else [])
        if not model_scales:
            raise SrbenchError(f"model '{model}': pass --scale")
        for scale in model_scales:
            source = first if len(model_scales) == 1 else resolve_source(model, scale, args.label, args.io)
            for ds in sets:
                plan = make_plan(model, ds, scale, protocol=args.protocol, metrics=metrics, data_root=args.data_root,
                                 device=args.device, precision=args.precision, tile=args.tile,
                                 tile_overlap=args.tile_overlap, limit=limit, source=source,
                                 lr_cache_dir=lr_cache_dir(), images_dir=images_dir, calibration=calibration,
                                 allow_incomplete=args.allow_incomplete)
                plans.append(plan)
                own_protocol = args.protocol is None and card is not None and card.default_protocol
                own_metrics = metrics is None and card is not None and card.default_metrics
                if own_protocol or own_metrics:  # what make_plan resolved from the card, said once
                    notes.append(f"{card.name}: the card's defaults:"
                                 + (f" protocol {card.default_protocol} = {plan.protocol.name} "
                                    f"({plan.protocol.description})" if own_protocol else "")
                                 + (f"; metrics {','.join(card.default_metrics)}" if own_metrics else ""))
    for note in dict.fromkeys(notes):  # said once everything is known to be valid
        log.info("%s", note)
    return plans


def run(args) -> int:
    from srbench.commands._common import executor_from_args
    from srbench.eval.driver import run_plan
    from srbench.eval.progress import progress_bar
    from srbench.report.precision import backend_of, precision_label

    plans = make_plans(args)
    command = command_line()
    docs = []
    with executor_from_args(args) as executor, progress_bar(sum(len(p.samples) for p in plans), "images") as bar:
        for plan in plans:
            doc = run_plan(plan, out_dir=args.out, resume=args.resume, executor=executor, on_images=bar.update,
                           command=command)
            log.info("%s %s x%d (%s, %s, %s): %s", plan.label, doc["dataset"], plan.scale, plan.protocol.name,
                     precision_label(doc), backend_of(doc), ", ".join(f"{k} {v:.4f}" for k, v in doc["metrics"].items()))
            if not doc["provenance"]["dataset"]["complete"]:
                log.warning("%s %s x%d: a subset of %d images (not comparable with the whole set's results; kept "
                            "out of leaderboards and baselines)", plan.label, doc["dataset"], plan.scale, doc["n_images"])
            docs.append(doc)
    print_results(docs, args.format)
    return 0
