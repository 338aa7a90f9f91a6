"""Crop grids of SR outputs: the same crop of one image across models and the HR (``srbench
compare-visual`` and the sweep's panels), and the images where a model loses most (``srbench worst --grid``)."""

from __future__ import annotations

import logging
from pathlib import Path

from srbench.errors import SrbenchError
from srbench.store.files import ensure_dir
from srbench.store.results import safe_label

log = logging.getLogger(__name__)


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``x,y,w,h`` in HR pixels."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise SrbenchError(f"bad --box '{text}': use x,y,w,h in HR pixels") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise SrbenchError(f"bad --box '{text}': width and height must be positive, x and y non-negative")
    return x, y, w, h


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
    hr = to_rgb(pipeline.load(plan.protocol, sample, plan.scale, plan.source.io.same_size).hr)
    return f"{plan.label}\n{label}", to_rgb(sr), hr, values


def draw_grid(cells, cols: int, title: str, out) -> Path:
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


def compare_visual(dataset: str, image: str, models: list[str], box: str, scale: int, *, protocol: str = "matlab",
                   metrics=("psnr", "lpips"), data_root=None, device: str = "cpu", out=None) -> Path:
    """Write the grid (default ``compare_<set>_<image>_x<s>.png``) and return its path; the panel
    labels are whole-image metric values."""
    from srbench.datasets import open_dataset
    from srbench.registry import did_you_mean

    x, y, w, h = parse_box(box)
    ds = open_dataset(dataset, data_root)
    sample = next((s for s in ds.samples if image in (s.name, s.stem)), None)
    if sample is None:
        names = [s.stem for s in ds.samples]
        raise SrbenchError(f"no image '{image}' in {ds.card.name}." + did_you_mean(image, names))
    if not models:
        raise SrbenchError("compare-visual needs at least one model")
    panels, hr = [], None
    for name in models:
        title, sr, hr, _ = sr_panel(name, ds, sample, scale, protocol, list(metrics), device)
        panels.append((title, sr))
    if x + w > hr.shape[1] or y + h > hr.shape[0]:
        raise SrbenchError(f"--box {box} falls outside the {hr.shape[1]}x{hr.shape[0]} (modcropped) HR image")
    panels.append(("HR", hr))
    path = Path(out or f"compare_{safe_label(ds.card.name)}_{sample.stem}_x{scale}.png")
    return draw_grid([(title, img, (x, y, w, h)) for title, img in panels], min(len(panels), 4),
                     f"{ds.card.title} {sample.stem} x{scale}, crop x={x} y={y} {w}x{h} (protocol {protocol}; "
                     "labels: whole-image values)", path)


def draw_worst_grid(report, doc_a: dict, doc_b: dict | None, out: Path, n_images: int, crop: int, data_root,
                    device: str) -> Path:
    """A row per image (A, B, HR, |error A − error B|; without B: A, HR, |error A|), through
    compare-visual's pipeline and drawing; the crop where the error maps differ most."""
    from srbench.datasets import open_dataset
    from srbench.metrics.registry import METRICS
    from srbench.report.worst import error_map, max_difference_box

    ds = open_dataset(report.dataset, data_root)
    by_name = {s.name: s for s in ds.samples}
    cells = []
    for r in report.images[:n_images]:
        sample = by_name.get(r.name)
        if sample is None:
            raise SrbenchError(f"{r.name} is not in {ds.card.name} at {ds.root}; the grid needs the set's images")
        panels = []
        for doc, stored in ((doc_a, r.value), (doc_b, r.reference)):
            if doc is None:
                continue
            if (doc.get("identity", {}).get("model") or {}).get("kind") not in ("card", "int8"):
                raise SrbenchError(f"--grid re-runs zoo models; {doc['model']} is not one (drop --grid)")
            title, sr, hr, values = sr_panel(doc["model"], ds, sample, report.scale, doc["protocol"]["name"],
                                             [report.metric], device,
                                             doc.get("provenance", {}).get("precision", "fp32"))
            tol = METRICS.get(report.metric).tolerance if report.metric in METRICS else 0.0
            if abs(values[report.metric] - stored) > tol:
                log.warning("%s on %s: re-run %s %.4f differs from the result's %.4f (beyond the gate tolerance %g)",
                            doc["model"], r.name, report.metric, values[report.metric], stored, tol)
            panels.append((f"{r.name}: {title}", sr))
        errors = [error_map(sr, hr) for _, sr in panels]
        diff = abs(errors[0] - errors[1]) if len(errors) == 2 else errors[0]
        box = max_difference_box(diff, crop)
        what = "|error A − error B|" if len(errors) == 2 else "|error A|"
        cells += [(t, img, box) for t, img in panels] + [("HR", hr, box), (f"{what} (mean over RGB)", diff, box)]
    cols = len(cells) // min(n_images, len(report.images))
    return draw_grid(cells, cols, f"{ds.card.title} x{report.scale}: where {report.model} loses most"
                     + (f" against {report.reference}" if report.reference else "")
                     + f" in {report.metric} (crop where the error maps differ most)", out)
