"""``srbench fetch``: download and verify model weights or benchmark sets (needs the network).

Weights go to the cache (``$SRBENCH_HOME/assets``); sets go to ``--data-root`` (default
``$SRBENCH_DATA`` or ``$SRBENCH_HOME/datasets``) as ``<Set>/HR/<file>``. Every pinned file is sha256-checked.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import SrbenchError

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="model name(s), comma-separated")
    g.add_argument("--all", action="store_true", help="weights of every zoo model")
    g.add_argument("--dataset", help="set(s), comma-separated: set5, set14, b100, urban100, div2k")
    p.add_argument("--data-root", help="where sets go (default $SRBENCH_DATA or $SRBENCH_HOME/datasets)")


def fetch_model(name: str) -> list[Path]:
    from ..assets import resolve
    from ..models import get_card

    card = get_card(name)
    paths = []
    for key, asset in card.weights.items():
        path = resolve(asset)
        log.info("%s %s: %s", card.name, key, path)
        paths.append(path)
    return paths


def fetch_dataset(name: str, root: Path) -> Path:
    from ..assets import download, sha256_of
    from ..datasets import DATASETS, load_manifest

    card = DATASETS.get(name)
    if card.kind == "demo":
        log.info("demo: bundled with scikit-image, nothing to fetch")
        return root
    if card.kind == "div2k":
        raise SrbenchError(
            "DIV2K has no per-file checksums to pin: download DIV2K_valid_HR.zip (and DIV2K_valid_LR_bicubic_X{2,3,4}.zip) "
            f"from http://data.vision.ee.ethz.ch/cvl/DIV2K/ and unzip them into {root}"
        )
    hr_dir = root / card.dir_names[0] / "HR"
    rows = load_manifest(card.manifest)
    for file, row in rows.items():
        dst = hr_dir / file
        if dst.exists() and sha256_of(dst) == row["sha256"]:
            continue
        download(row["url"], dst, row["sha256"], f"{card.name}/{file}")
    log.info("%s: %d files verified in %s", card.name, len(rows), hr_dir)
    return hr_dir


def run(args) -> int:
    from ..assets import offline
    from ..datasets import default_root
    from ..models import list_models
    from ._common import split_list

    if offline():
        log.info("SRBENCH_OFFLINE is set: only the cache and SRBENCH_MIRROR are searched")
    if args.dataset:
        root = Path(args.data_root) if args.data_root else default_root()
        for name in split_list(args.dataset):
            fetch_dataset(name, root)
        return 0
    names = list_models() if args.all else split_list(args.model)
    for name in names:
        fetch_model(name)
    return 0
