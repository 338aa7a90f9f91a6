"""``srbench fetch``: download and verify model weights, metric files or benchmark sets, or register a
file you supply (the Ma et al. model).

Weights and metric files go to the cache (``$SRBENCH_HOME/assets``); sets go to ``--data-root``
(default ``$SRBENCH_DATA`` or ``$SRBENCH_HOME/datasets``) as ``<Set>/HR/<file>``. Every pinned file
is sha256-checked; with ``SRBENCH_OFFLINE=1`` only the cache and ``SRBENCH_MIRROR`` are searched.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

# What `--file F --as NAME` can register: name -> (file name in the cache, check of the file).
REGISTRABLE = {"ma-model": "model.mat", "inception": "inception-2015-12-05.pt"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="model name(s), comma-separated: their weights")
    g.add_argument("--metrics", help="metric(s), comma-separated: their parameter files (e.g. lpips_vgg,niqe)")
    g.add_argument("--all", action="store_true", help="weights of every zoo model and every metric's files")
    g.add_argument("--dataset", help="set(s), comma-separated: set5, set14, b100, urban100, div2k")
    g.add_argument("--file", help="a file you supply, registered with --as (its sha256 is recorded in results)")
    p.add_argument("--as", dest="as_name", choices=tuple(REGISTRABLE),
                   help="what --file is: ma-model = model.mat of Ma et al. (chaoma99/sr-metric); "
                        "inception = inception-2015-12-05.pt (clean-fid's Inception, for srbench fid)")
    p.add_argument("--data-root", help="where sets go (default $SRBENCH_DATA or $SRBENCH_HOME/datasets)")


def fetch_model(name: str) -> list[Path]:
    from srbench.models.registry import get_card
    from srbench.store.assets import resolve

    card = get_card(name)
    paths = []
    for key, asset in card.weights.items():
        path = resolve(asset)
        log.info("%s %s: %s", card.name, key, path)
        paths.append(path)
    return paths


def fetch_metric(name: str) -> dict:
    from srbench.metrics.registry import build_metric, get_metric

    files = build_metric(get_metric(name).name).assets()  # resolves (downloads) every file it uses
    for f, sha in files.items():
        log.info("%s: %s (sha256 %s)", name, f, sha[:12])
    return files


def fetch_dataset(name: str, root: Path) -> Path:
    from srbench.datasets import DATASETS, load_manifest
    from srbench.store.assets import download, sha256_of

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


def register(path: str, as_name: str | None) -> None:
    from srbench.metrics.fid import load_inception
    from srbench.metrics.ma import load_ma_model
    from srbench.store.assets import register_file

    if as_name is None:
        raise SrbenchError("--file needs --as (what the file is): " + ", ".join(REGISTRABLE))
    if not Path(path).is_file():
        raise SrbenchError(f"--file {path}: no such file")
    # refuse a file that is not what it is registered as
    (load_ma_model if as_name == "ma-model" else load_inception)(path)
    info = register_file(Path(path), as_name, REGISTRABLE[as_name])
    users = "ma and pi" if as_name == "ma-model" else "srbench fid"
    log.info("%s registered: %s (sha256 %s); %s now use it", as_name, path, info["sha256"], users)


def run(args) -> int:
    from srbench.commands._common import split_list
    from srbench.datasets import default_root
    from srbench.metrics.registry import METRICS
    from srbench.models.registry import list_models

    if args.as_name and not args.file:
        raise SrbenchError("--as goes with --file")
    if args.file:
        register(args.file, args.as_name)
        return 0
    if args.dataset:
        root = Path(args.data_root) if args.data_root else default_root()
        for name in split_list(args.dataset, "--dataset"):
            fetch_dataset(name, root)
        return 0
    if args.metrics or args.all:
        names = split_list(args.metrics, "--metrics") if args.metrics else [m for m in METRICS.names() if m not in ("ma", "pi")]
        for name in names:
            fetch_metric(name)
    if args.model or args.all:
        for name in (list_models() if args.all else split_list(args.model, "--model")):
            fetch_model(name)
    return 0
