"""``srbench compare-visual``: one PNG grid of the same crop across models and the HR."""

from __future__ import annotations

import argparse

from srbench.commands._common import split_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="dataset", required=True, help="set name or folder:PATH")
    p.add_argument("--image", required=True, help="image name (file stem, e.g. img_092)")
    p.add_argument("--models", required=True, help="comma-separated models")
    p.add_argument("--box", required=True, help="crop in HR pixels: x,y,w,h")
    p.add_argument("--scale", type=int, required=True, help="scale")
    p.add_argument("--protocol", default="matlab", help="protocol (default matlab); labels are whole-image values")
    p.add_argument("--metrics", default="psnr,lpips", help="metrics in each label (default psnr,lpips)")
    p.add_argument("--data-root")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", help="PNG to write (default compare_<set>_<image>_x<s>.png)")


def run(args) -> int:
    from srbench.eval.visual import compare_visual

    out = compare_visual(args.dataset, args.image, split_list(args.models, "--models"), args.box, args.scale,
                         protocol=args.protocol, metrics=split_list(args.metrics, "--metrics"),
                         data_root=args.data_root, device=args.device, out=args.out)
    print(out)
    return 0
