"""One PNG grid of the same crop of one image across models and the HR (``srbench compare-visual`` and
the sweep's comparison panels)."""

from __future__ import annotations

from pathlib import Path

from srbench.errors import SrbenchError
from srbench.store.files import ensure_dir
from srbench.store.results import safe_label


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``x,y,w,h`` in HR pixels."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise SrbenchError(f"bad --box '{text}': use x,y,w,h in HR pixels") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise SrbenchError(f"bad --box '{text}': width and height must be positive, x and y non-negative")
    return x, y, w, h


def compare_visual(dataset: str, image: str, models: list[str], box: str, scale: int, *, protocol: str = "matlab",
                   metrics=("psnr", "lpips"), data_root=None, device: str = "cpu", out=None) -> Path:
    """Write the grid (default ``compare_<set>_<image>_x<s>.png``) and return its path; the panel
    labels are whole-image metric values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from srbench.datasets import open_dataset
    from srbench.eval.plan import make_plan
    from srbench.eval.unit import process_image, runtime_for
    from srbench.imaging.io import to_rgb
    from srbench.metrics.registry import get_metric
    from srbench.protocol import pipeline
    from srbench.registry import did_you_mean

    x, y, w, h = parse_box(box)
    ds = open_dataset(dataset, data_root)
    sample = next((s for s in ds.samples if image in (s.name, s.stem)), None)
    if sample is None:
        names = [s.stem for s in ds.samples]
        raise SrbenchError(f"no image '{image}' in {ds.card.name}." + did_you_mean(image, names))
    panels, hr = [], None
    for name in models:
        plan = make_plan(name, ds, scale, protocol=protocol, metrics=list(metrics), device=device, only={sample.name})
        if "lpips" not in pipeline.available_inputs(plan.protocol):
            raise SrbenchError(f"compare-visual needs an RGB protocol; '{plan.protocol.name}' is Y-only")
        rt = runtime_for(plan)
        _, pair, sr = process_image(plan, sample, rt)
        label = ", ".join(f"{get_metric(m).title} {metric(pair):{get_metric(m).fmt}}" for m, metric in rt.metrics)
        panels.append((f"{plan.label}\n{label}", sr))
        hr = to_rgb(pipeline.load(plan.protocol, sample, plan.scale, plan.source.io.same_size).hr)
    if hr is None:
        raise SrbenchError("compare-visual needs at least one model")
    if x + w > hr.shape[1] or y + h > hr.shape[0]:
        raise SrbenchError(f"--box {box} falls outside the {hr.shape[1]}x{hr.shape[0]} (modcropped) HR image")
    panels.append(("HR", hr))
    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * h / w * rows + 0.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img) in zip(axes.flat, panels):
        ax.imshow(img[y:y + h, x:x + w], interpolation="nearest")
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"{ds.card.title} {sample.stem} x{scale}, crop x={x} y={y} {w}x{h} (protocol {protocol}; "
                 "labels: whole-image values)", fontsize=10)
    fig.tight_layout()
    path = Path(out or f"compare_{safe_label(ds.card.name)}_{sample.stem}_x{scale}.png")
    ensure_dir(path.parent)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
