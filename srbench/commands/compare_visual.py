"""``srbench compare-visual``: one PNG grid of the same crop across models and the HR."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SrbenchError
from ._common import split_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="dataset", required=True, help="set name or folder:PATH")
    p.add_argument("--image", required=True, help="image name (file stem, e.g. img_092)")
    p.add_argument("--models", required=True, help="comma-separated models")
    p.add_argument("--box", required=True, help="crop in HR pixels: x,y,w,h")
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--protocol", default="matlab")
    p.add_argument("--metrics", default="psnr,lpips", help="metrics in each label (default psnr,lpips)")
    p.add_argument("--data-root")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", help="PNG to write (default compare_<set>_<image>_x<s>.png)")


def _box(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise SrbenchError(f"bad --box '{text}': use x,y,w,h in HR pixels") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise SrbenchError(f"bad --box '{text}': width and height must be positive, x and y non-negative")
    return x, y, w, h


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..datasets import open_dataset
    from ..evaluate import EvalContext, evaluate_image, resolve_protocol
    from ..inference import prepare, resolve_device
    from ..metrics import build_metric, get_metric
    from ..models import build_model, get_card
    from ..registry import did_you_mean

    x, y, w, h = _box(args.box)
    ds = open_dataset(args.dataset, args.data_root)
    sample = next((s for s in ds.samples if s.name == args.image or s.hr_path.name == args.image), None)
    if sample is None:
        names = [s.name for s in ds.samples]
        raise SrbenchError(f"no image '{args.image}' in {ds.card.name}." + did_you_mean(args.image, names))
    metrics = [get_metric(m).name for m in split_list(args.metrics)]
    dev = resolve_device(args.device)
    panels = []
    hr = None
    for name in split_list(args.models):
        card = get_card(name)
        card.check_scale(args.scale)
        proto = resolve_protocol(args.protocol, card)
        if proto.pipeline != "rgb":
            raise SrbenchError(f"compare-visual needs an RGB protocol; '{proto.name}' is Y-only")
        net = prepare(build_model(card, args.scale), dev, "fp32")
        impls = {m: build_metric(m, proto, str(dev)) for m in metrics}
        ctx = EvalContext(card, proto, args.scale, ds, net, dev, "fp32", None, 0, impls)
        pair, _ = evaluate_image(ctx, sample)
        hr = pair.hr
        label = ", ".join(f"{m.upper()} {impls[m](pair):.{2 if m.startswith('psnr') else 4}f}" for m in metrics)
        panels.append((f"{card.name}\n{label}", pair.sr))
    if x + w > hr.shape[1] or y + h > hr.shape[0]:
        raise SrbenchError(f"--box {args.box} falls outside the {hr.shape[1]}x{hr.shape[0]} (modcropped) HR image")
    panels.append(("HR", hr))
    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * h / w * rows + 0.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img) in zip(axes.flat, panels):
        ax.imshow(img[y:y + h, x:x + w], interpolation="nearest")
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"{ds.card.name} {sample.name} x{args.scale}, crop x={x} y={y} {w}x{h} (protocol {args.protocol}; labels: whole-image values)", fontsize=10)
    fig.tight_layout()
    out = Path(args.out or f"compare_{ds.card.name.replace(':', '-').replace('/', '_')}_{sample.name}_x{args.scale}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(out)
    return 0
