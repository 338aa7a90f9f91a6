"""``srbench run``: evaluate models on sets and scales; one result JSON per (model, set, scale)."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from ..errors import SrbenchError
from ..formatting import render
from ._common import add_format, parse_scales, split_list

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model name(s), comma-separated (srbench list models)")
    p.add_argument("--set", dest="sets", required=True, help="set(s): set5,set14,b100,urban100,div2k,demo or folder:PATH")
    p.add_argument("--scale", help="scale(s), e.g. 2,3,4 (default: the model's default scale, else all it supports)")
    p.add_argument("--metrics", default="psnr,ssim", help="comma-separated metrics (srbench list metrics)")
    p.add_argument("--protocol", default="matlab", help="matlab (canonical), vdsr, tpsr, falsr, fsrcnn, pirm, or paper")
    p.add_argument("--data-root", help="folder holding the sets (default: $SRBENCH_DATA, else $SRBENCH_HOME/datasets)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="inference precision (recorded)")
    p.add_argument("--tile", type=int, help="run the model on LR tiles of this many pixels")
    p.add_argument("--tile-overlap", type=int, default=16, help="context pixels around each tile (default 16)")
    p.add_argument("--out", default="results", help="folder for result JSON files (default results/)")
    p.add_argument("--save-images", action="store_true", help="also write SR images under OUT/images/")
    p.add_argument("--resume", action="store_true", help="continue interrupted runs, keep finished results")
    p.add_argument("--limit", type=int, help="only the first N images of each set (smoke tests)")
    add_format(p)


def _plan(args) -> list[tuple[str, str, int]]:
    """Validate every name and scale before running anything."""
    from ..datasets import DATASETS
    from ..evaluate import resolve_protocol
    from ..metrics import get_metric
    from ..models import get_card

    models = [get_card(m) for m in split_list(args.model)]
    sets = split_list(args.sets)
    for s in sets:
        if not s.lower().startswith("folder:"):
            DATASETS.get(s)
    for m in split_list(args.metrics):
        get_metric(m)
    if args.protocol != "paper":
        resolve_protocol(args.protocol, models[0])
    scales = parse_scales(args.scale)
    plan = []
    for card in models:
        card_scales = scales or ([card.default_scale] if card.default_scale else list(card.scales))
        for sc in card_scales:
            card.check_scale(sc)
        for ds in sets:
            for sc in card_scales:
                plan.append((card.name, ds, sc))
    if not plan:
        raise SrbenchError("nothing to run: give --model, --set and --scale")
    return plan


def _existing(args, model: str, ds: str, scale: int, protocol: str, metrics: list[str]):
    """With --resume, a finished result holding every requested metric is reused as it is."""
    import json
    from pathlib import Path

    from ..protocols import get_protocol
    from ..results import result_stem

    path = Path(args.out) / (result_stem(model, ds, scale, protocol, args.precision) + ".json")
    if not (args.resume and path.exists()):
        return None
    doc = json.loads(path.read_text())
    if doc.get("protocol") != get_protocol(protocol).to_dict():
        return None  # made under another version of the protocol: run again
    return doc if all(m in doc.get("metrics", {}) for m in metrics) else None


def table_rows(docs: list[dict]) -> tuple[list[dict], list[str]]:
    from ..metrics import get_metric

    metric_names: list[str] = []
    for d in docs:
        metric_names += [m for m in d["metrics"] if m not in metric_names]
    rows = []
    for d in docs:
        row = {"model": d["model"], "set": d["dataset"], "scale": f"x{d['scale']}", "protocol": d["protocol"]["name"]}
        for m in metric_names:
            row[f"{m} {get_metric(m).arrow}"] = d["metrics"].get(m)
        paper = next((r for r in d.get("published", []) if r.get("kind", "paper") == "paper"), None)
        # † marks a published value obtained under another protocol than this run's.
        mark = "" if paper is None or paper.get("protocol") == d["protocol"]["name"] else "†"
        row["paper psnr"] = f"{paper['psnr']:.2f}{mark}" if paper and paper.get("psnr") is not None else None
        row["images"] = d["n_images"]
        rows.append(row)
    return rows, metric_names


def run(args) -> int:
    from ..evaluate import evaluate, resolve_protocol
    from ..models import get_card

    plan = _plan(args)
    metrics = split_list(args.metrics)
    command = "srbench " + shlex.join(sys.argv[1:]) if sys.argv and "srbench" in sys.argv[0] else None
    docs = []
    for model, ds, scale in plan:
        protocol = resolve_protocol(args.protocol, get_card(model)).name
        doc = _existing(args, model, ds, scale, protocol, metrics)
        if doc is None:
            doc = evaluate(model, ds, scale, protocol=protocol, metrics=metrics, data_root=args.data_root,
                           device=args.device, precision=args.precision, tile=args.tile,
                           tile_overlap=args.tile_overlap, out_dir=args.out, save_images=args.save_images,
                           resume=args.resume, limit=args.limit, progress=True, command=command)
        log.info("%s %s x%d (%s): %s", model, doc["dataset"], scale, protocol,
                 ", ".join(f"{k} {v:.4f}" for k, v in doc["metrics"].items()))
        docs.append(doc)
    rows, metric_names = table_rows(docs)
    # .4f everywhere: enough to compare with the "measured" values of the model cards
    print(render(rows, args.format, json_doc={"results": docs}))
    return 0
