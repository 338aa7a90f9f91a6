"""The evaluation loop: dataset -> LR per protocol -> model -> SR per protocol -> metrics -> result.

SPEC §1 steps, per image: read HR (uint8), modcrop to the scale, LR = the set's shipped MATLAB
bicubic LR or ``imresize`` of the HR as the protocol says, model, clamp and round (or truncate) SR
to uint8, Y per protocol, shave, metrics; the set value is the mean of per-image values.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .assets import home, sha256_of
from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .datasets import Dataset, Sample, open_dataset
from .errors import AssetMissingError, SrbenchError
from .imresize import imresize, round_uint8
from .io import modcrop, read_image, to_rgb, write_png
from .metrics import ImagePair, build_metric, get_metric, protocol_y
from .models import ModelCard, build_model, get_card
from .protocols import CANONICAL, Protocol, get_protocol
from .results import SCHEMA_VERSION, Journal, environment, result_stem, write_json_atomic

log = logging.getLogger(__name__)

DEFAULT_METRICS = ("psnr", "ssim")


def resolve_protocol(name: str | None, card: ModelCard) -> Protocol:
    """``paper`` -> the model card's own protocol; None -> canonical."""
    if name is None:
        name = CANONICAL
    if name == "paper":
        name = card.paper_protocol
    return get_protocol(name)


def resolve_scale(card: ModelCard, scale: int | None) -> int:
    if scale is None:
        if card.default_scale is None and len(card.scales) != 1:
            raise SrbenchError(f"model '{card.name}' supports {', '.join(f'x{s}' for s in card.scales)}; pass --scale")
        scale = card.default_scale or card.scales[0]
    card.check_scale(scale)
    return scale


def _quantize(sr255: np.ndarray, mode: str) -> np.ndarray:
    if mode == "truncate":  # numpy astype(uint8) after clipping, as FALSR's calculate.py
        return np.clip(sr255, 0, 255).astype(np.uint8)
    return round_uint8(sr255)


@dataclass
class EvalContext:
    card: ModelCard
    protocol: Protocol
    scale: int
    dataset: Dataset
    model: object
    device: object
    precision: str
    tile: int | None
    tile_overlap: int
    metrics: dict  # name -> implementation
    lr_stats: dict = field(default_factory=lambda: {"shipped": 0, "generated": 0, "cached": 0})


def _lr_cache_path(hr_path: Path, scale: int) -> Path:
    return home() / "lr_cache" / f"{sha256_of(hr_path)[:16]}_x{scale}.png"


def _lr_uint8(ctx: EvalContext, sample: Sample, hr: np.ndarray) -> np.ndarray:
    s = ctx.scale
    shipped = sample.lr_paths.get(s) if ctx.protocol.lr_source == "dataset-or-generated" else None
    if shipped is not None:
        lr, _ = read_image(shipped)
        lr = to_rgb(lr)
        if lr.shape[0] * s != hr.shape[0] or lr.shape[1] * s != hr.shape[1]:
            raise SrbenchError(
                f"{shipped}: LR is {lr.shape[1]}x{lr.shape[0]} but the HR {sample.hr_path.name} modcropped to x{s} is "
                f"{hr.shape[1]}x{hr.shape[0]} (expected LR {hr.shape[1] // s}x{hr.shape[0] // s}); remove the LR folder "
                "to let srbench generate MATLAB-bicubic LR"
            )
        ctx.lr_stats["shipped"] += 1
        return lr
    cache = _lr_cache_path(sample.hr_path, s)
    if cache.exists():
        try:
            lr, _ = read_image(cache)
            if lr.shape[:2] == (hr.shape[0] // s, hr.shape[1] // s):
                ctx.lr_stats["cached"] += 1
                return to_rgb(lr)
        except SrbenchError:
            pass  # a broken cache entry is regenerated
    lr = imresize(hr, Fraction(1, s))  # uint8 path: rounded between passes, like MATLAB
    write_png(lr, cache)
    ctx.lr_stats["generated"] += 1
    return lr


def _run_rgb(ctx: EvalContext, lr01: np.ndarray) -> np.ndarray:
    """SR x 255 (float) for an RGB LR in [0, 1] units; Y-only models get Y and bicubic chroma."""
    from .inference import run_model

    out_scale = 1 if ctx.card.same_size else ctx.scale
    if ctx.card.colour == "rgb":
        return run_model(ctx.model, lr01, out_scale, ctx.device, ctx.precision, ctx.tile, ctx.tile_overlap)
    ycc = rgb_to_ycbcr(lr01 * 255.0)
    y = run_model(ctx.model, ycc[..., :1] / 255.0, out_scale, ctx.device, ctx.precision, ctx.tile, ctx.tile_overlap)
    chroma = imresize(ycc[..., 1:], out_scale)
    return ycbcr_to_rgb(np.concatenate([y, chroma], axis=2))


def evaluate_image(ctx: EvalContext, sample: Sample) -> tuple[ImagePair, float]:
    """Build the protocol's :class:`ImagePair` for one image; returns it and the model time (s)."""
    from .inference import run_model

    p, s = ctx.protocol, ctx.scale
    hr_raw, gray = read_image(sample.hr_path)
    if ctx.card.same_size:
        if hr_raw.shape[0] % 4 or hr_raw.shape[1] % 4:
            hr_raw = modcrop(hr_raw, 4)  # IMDN-AS needs multiples of 4 (two stride-2 convs)
        hr = hr_raw
    else:
        hr = modcrop(hr_raw, s)
    if min(hr.shape[:2]) < s * 4:
        raise SrbenchError(f"{sample.hr_path}: image {hr_raw.shape[1]}x{hr_raw.shape[0]} is too small for x{s}")
    t0 = time.perf_counter()
    if p.pipeline == "y":
        hr_y = protocol_y(hr, gray, p)  # rounded Y of the HR (MATLAB uint8 rgb2ycbcr)
        lr_y = imresize(hr_y, Fraction(1, s))  # kept in double, never rounded
        sr_y = run_model(ctx.model, lr_y[..., None] / 255.0, s, ctx.device, ctx.precision, ctx.tile, ctx.tile_overlap)
        pair = ImagePair(sample.name, s, p, gray=gray, sr_y_given=_quantize(sr_y[..., 0], p.sr_rounding).astype(np.float64),
                         hr_y_given=hr_y)
        return pair, time.perf_counter() - t0
    hr_rgb = to_rgb(hr)
    if ctx.card.same_size:
        lr01 = hr_rgb / 255.0  # same-size models (RealSR) restore the image itself
    elif p.lr_resize == "double":
        lr01 = imresize(hr_rgb.astype(np.float64), Fraction(1, s)) / 255.0
    else:
        lr01 = _lr_uint8(ctx, sample, hr_rgb) / 255.0
    sr = _quantize(_run_rgb(ctx, lr01), p.sr_rounding)
    if sr.shape != hr_rgb.shape:
        raise SrbenchError(f"model '{ctx.card.name}' returned {sr.shape[1]}x{sr.shape[0]} for HR {hr_rgb.shape[1]}x{hr_rgb.shape[0]}")
    return ImagePair(sample.name, s, p, sr=sr, hr=hr_rgb, gray=gray), time.perf_counter() - t0


def _complexity(card: ModelCard, scale: int) -> dict | None:
    try:
        from .complexity import profile
    except ImportError:
        return None
    try:
        return profile(card, scale, convention="hr720")
    except SrbenchError:
        raise
    except Exception as exc:  # counting is informative; never lose a run over it
        log.warning("complexity of %s x%d not counted: %s", card.name, scale, exc)
        return None


def evaluate(model: str, dataset: str, scale: int | None = None, protocol: str | None = None,
             metrics=DEFAULT_METRICS, data_root=None, device: str = "cpu", precision: str = "fp32",
             tile: int | None = None, tile_overlap: int = 0, out_dir=None, save_images: bool = False,
             resume: bool = False, limit: int | None = None, progress: bool = False,
             command: str | None = None) -> dict:
    """Evaluate one model on one set at one scale; returns the result document (see README)."""
    from .inference import prepare, resolve_device

    card = get_card(model)
    scale = resolve_scale(card, scale)
    proto = resolve_protocol(protocol, card)
    metric_names = [get_metric(m).name for m in metrics]
    if proto.pipeline == "y":
        if card.colour != "y":
            raise SrbenchError(
                f"protocol '{proto.name}' is Y-only (the FSRCNN test code); model '{card.name}' is an RGB model: "
                "use --protocol matlab"
            )
        rgb_only = [m for m in metric_names if get_metric(m).needs_rgb]
        if rgb_only:
            raise SrbenchError(f"protocol '{proto.name}' is Y-only; {', '.join(rgb_only)} need RGB output")
    ds = open_dataset(dataset, data_root)
    samples = ds.samples[:limit] if limit else ds.samples
    manifest = ds.verify()

    dev = resolve_device(device)
    t_start = time.perf_counter()
    net = prepare(build_model(card, scale), dev, precision)
    metric_impls = {m: build_metric(m, proto, str(dev)) for m in metric_names}
    ctx = EvalContext(card, proto, scale, ds, net, dev, precision, tile, tile_overlap, metric_impls)

    stem = result_stem(card.name, ds.card.name, scale, proto.name, precision)
    out = Path(out_dir) if out_dir else None
    weights = card.weights_for(scale)
    settings = {"protocol": proto.to_dict(), "precision": precision, "tile": tile, "tile_overlap": tile_overlap,
                "weights_sha256": None if weights is None else weights.sha256}
    journal = Journal(out / f"{stem}.partial.jsonl", settings) if out else None
    done = journal.load() if (journal and resume) else {}
    if journal and not resume:
        journal.remove()

    records: list[dict] = []
    unavailable: dict[str, str] = {}
    model_s = metric_s = 0.0
    iterator = samples
    if progress:
        from tqdm import tqdm

        iterator = tqdm(samples, desc=f"{card.name} {ds.card.name} x{scale}", unit="img", leave=False)
    for sample in iterator:
        prev = done.get(sample.name)
        if prev is not None and all(m in prev for m in metric_names):
            records.append(prev)
            continue
        pair, dt = evaluate_image(ctx, sample)
        model_s += dt
        t0 = time.perf_counter()
        rec = {"name": sample.name, "gray": pair.gray}
        for m, impl in list(metric_impls.items()):
            try:
                rec[m] = float(impl(pair))
            except AssetMissingError as exc:
                # A metric whose parameter file is missing is reported once; the others go on.
                unavailable[m] = str(exc)
                log.warning("%s not computed: %s", m, exc)
                del metric_impls[m]
                metric_names.remove(m)
        metric_s += time.perf_counter() - t0
        rec["time_s"] = round(dt, 4)
        if save_images and out is not None and pair.sr is not None:
            write_png(pair.sr, out / "images" / card.name / ds.card.name.replace(":", "-") / f"x{scale}" / f"{sample.name}.png")
        elif save_images and out is not None:
            write_png(pair.sr_y.astype(np.uint8), out / "images" / card.name / ds.card.name.replace(":", "-") / f"x{scale}" / f"{sample.name}_y.png")
        if journal:
            journal.append(rec)
        records.append(rec)

    means = {m: float(np.mean([r[m] for r in records])) for m in metric_names}
    extra_sha = {m: getattr(impl, "weights_sha256") for m, impl in metric_impls.items() if getattr(impl, "weights_sha256", None)}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "model": card.name,
        "model_title": card.title,
        "dataset": ds.card.name,
        "scale": scale,
        "protocol": {"name": proto.name, "version": proto.version, **{k: v for k, v in proto.to_dict().items() if k not in ("name", "version")}},
        "metrics": means,
        "metric_info": {m: get_metric(m).to_dict() for m in metric_names},
        "metrics_unavailable": unavailable,
        "n_images": len(records),
        "images": records,
        "complexity": _complexity(card, scale),
        "published": [r for r in card.published if r["dataset"] == ds.card.name and r["scale"] == scale],
        "provenance": {
            **environment(),
            "device": str(dev),
            "dtype": str(next((p.dtype for p in net.parameters()), "float64" if getattr(net, "wants_float64", False) else "float32")).replace("torch.", ""),
            "precision": precision,
            "tile": tile,
            "tile_overlap": tile_overlap if tile else None,
            "weights": None if weights is None else {"file": weights.filename, "sha256": weights.sha256, "url": weights.url},
            "metric_weights_sha256": extra_sha,
            "dataset": {"root": str(ds.root), "layout": ds.layout, "n_images": len(ds.samples), "limit": limit,
                        **{k: manifest[k] for k in ("manifest", "verified")},
                        "lr": dict(ctx.lr_stats)},
            "command": command,
        },
        "timings": {
            "total_s": round(time.perf_counter() - t_start, 3),
            "model_s": round(model_s, 3),
            "metrics_s": round(metric_s, 3),
            "per_image_ms": round(1000 * model_s / max(len(records) - len(done), 1), 1),
        },
    }
    if out is not None:
        write_json_atomic(doc, out / f"{stem}.json")
        journal.remove()
    return doc


def is_finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
