"""``srbench fid``: FID and KID (clean-fid semantics) of a folder of SR images against their HR images,
on a grid of fixed-size patches; the patch count is printed and too few patches are refused."""

from __future__ import annotations

import argparse
import logging

from srbench.errors import SrbenchError

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from srbench.metrics.fid import MIN_PATCHES

    p.add_argument("--sr", required=True, help="folder of SR images")
    p.add_argument("--hr", required=True, help="folder of HR images (matched to the SR images by file stem)")
    p.add_argument("--patch", type=int, default=512, help="patch side in pixels (default 512, StableSR's crops)")
    p.add_argument("--min-patches", type=int, default=MIN_PATCHES,
                   help=f"refuse under this many patches (default {MIN_PATCHES}, the feature dimension)")
    p.add_argument("--allow-few", action="store_true", help="compute under --min-patches anyway, flagged UNSTABLE")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for 95%% intervals (e.g. 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the KID subsets and the bootstrap (default 0)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--format", choices=("table", "json"), default="table")


def _pairs(sr_dir, hr_dir):
    from pathlib import Path

    from srbench.imaging.io import IMAGE_EXTENSIONS, read_image, to_rgb

    def images(folder):
        folder = Path(folder)
        if not folder.is_dir():
            raise SrbenchError(f"{folder}: not a folder of images")
        return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}

    sr, hr = images(sr_dir), images(hr_dir)
    missing = sorted(set(sr) - set(hr))
    if missing or not sr:
        raise SrbenchError(f"{len(missing)} SR image(s) have no HR image of the same stem in {hr_dir} "
                           f"({', '.join(missing[:3])})" if missing else f"{sr_dir}: no images")
    for stem in sr:
        yield to_rgb(read_image(sr[stem])[0]), to_rgb(read_image(hr[stem])[0])


def run(args) -> int:
    from srbench.metrics.fid import InceptionFeatures, fid_kid
    from srbench.store.results import dumps

    net = InceptionFeatures(args.device)
    result = fid_kid(list(_pairs(args.sr, args.hr)), net, patch=args.patch, min_patches=args.min_patches,
                     allow_few=args.allow_few, bootstrap=args.bootstrap, seed=args.seed)
    doc = {**result.to_dict(), "inception_sha256": net.sha256}
    if args.format == "json":
        print(dumps(doc))
        return 0
    flag = "  **UNSTABLE: fewer patches than --min-patches**" if result.unstable else ""
    print(f"patches: {result.n_patches} ({result.patch}x{result.patch} grid of {result.n_images} image pairs){flag}")
    for name, value, ci in (("FID", result.fid, result.fid_interval), ("KID", result.kid, result.kid_interval)):
        interval = f"  [{ci[0]:.4f}, {ci[1]:.4f}] (95% bootstrap)" if ci else ""
        print(f"{name}: {value:.4f}{interval}")
    return 0
