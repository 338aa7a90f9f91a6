"""``srbench compare-visual``: one PNG grid of the same crop across models and the HR."""

from __future__ import annotations

import argparse
from pathlib import Path

from srbench.commands._common import split_list
from srbench.errors import SrbenchError
from srbench.store.files import ensure_dir
from srbench.store.results import safe_label


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


def _box(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise SrbenchError(f"bad --box '{text}': use x,y,w,h in HR pixels") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise SrbenchError(f"bad --box '{text}': width and height must be positive, x and y non-negative")
    return x, y, w, h


def run(args) -> int:
    from srbench.datasets import open_dataset
    from srbench.registry import did_you_mean

    x, y, w, h = _box(args.box)
    ds = open_dataset(args.dataset, args.data_root)
    sample = next((s for s in ds.samples if args.image in (s.name, s.stem)), None)
    if sample is None:
        names = [s.stem for s in ds.samples]
        raise SrbenchError(f"no image '{args.image}' in {ds.card.name}." + did_you_mean(args.image, names))
    metrics = split_list(args.metrics, "--metrics")
    panels = []
    for name in split_list(args.models, "--models"):
        title, sr, hr, _ = sr_panel(name, ds, sample, args.scale, args.protocol, metrics, args.device)
        panels.append((title, sr))
    if x + w > hr.shape[1] or y + h > hr.shape[0]:
        raise SrbenchError(f"--box {args.box} falls outside the {hr.shape[1]}x{hr.shape[0]} (modcropped) HR image")
    panels.append(("HR", hr))
    out = Path(args.out or f"compare_{safe_label(ds.card.name)}_{sample.stem}_x{args.scale}.png")
    draw_grid([(title, img, (x, y, w, h)) for title, img in panels], min(len(panels), 4),
              f"{ds.card.title} {sample.stem} x{args.scale}, crop x={x} y={y} {w}x{h} (protocol {args.protocol}; labels: whole-image values)",
              out)
    print(out)
    return 0


def sr_panel(model, ds, sample, scale: int, protocol: str | None, metrics: list[str], device: str = "cpu",
             precision: str = "fp32"):
    """(panel title, SR RGB uint8, modcropped HR RGB uint8, {metric: whole-image value}) of ``model`` on
    one image of ``ds``, through the evaluation pipeline (a grey SR replicated to RGB like its HR)."""
    from srbench.eval.plan import make_plan
    from srbench.eval.unit import process_image, runtime_for
    from srbench.imaging.io import to_rgb
    from srbench.metrics.registry import get_metric
    from srbench.protocol import pipeline

    plan = make_plan(model, ds, scale, protocol=protocol, metrics=metrics, device=device, precision=precision,
                     only={sample.name})
    if "lpips" not in pipeline.available_inputs(plan.protocol):
        raise SrbenchError(f"compare-visual needs an RGB protocol; '{plan.protocol.name}' is Y-only")
    rt = runtime_for(plan)
    _, pair, sr = process_image(plan, sample, rt)
    values = {m: float(metric(pair)) for m, metric in rt.metrics}
    label = ", ".join(f"{get_metric(m).title} {v:{get_metric(m).fmt}}" for m, v in values.items())
    return f"{plan.label}\n{label}", to_rgb(sr), _hr_of(plan, sample), values


def draw_grid(cells, cols: int, title: str, out: Path) -> Path:
    """One PNG: ``cells`` (panel title, image, crop box x,y,w,h in its pixels) row-major in ``cols``
    columns; a 2-D image (an error map) is drawn with a colour map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, w, h = cells[0][2]
    rows = -(-len(cells) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * h / w * rows + 0.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (panel, img, (x, y, w, h)) in zip(axes.flat, cells):
        ax.imshow(img[y:y + h, x:x + w], interpolation="nearest", **({"cmap": "magma"} if img.ndim == 2 else {}))
        ax.set_title(panel, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    ensure_dir(Path(out).parent)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)


def _hr_of(plan, sample):
    """The modcropped HR as an RGB image (what the panels are compared with)."""
    from srbench.imaging.io import to_rgb
    from srbench.protocol import pipeline

    return to_rgb(pipeline.load(plan.protocol, sample, plan.scale, plan.source.io.same_size).hr)
