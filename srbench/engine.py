"""Evaluation in three phases: plan -> a pure per-image unit -> aggregate.

- :func:`make_plan` resolves every name once (model source, set, scale, protocol, metrics), checks
  that they fit together, and fixes the result's identity. ``run``, ``score``, ``compare-visual``,
  ``sweep`` and the Python API all start here.
- :func:`evaluate_shard` is the unit: a pure, picklable function of (plan, images) returning one
  record per image (no shared mutable state; models and metric networks are built once per process).
  Executors (:mod:`srbench.executors`: in-process, process pool, Ray) map it over shards.
- :func:`aggregate` turns the records into the result document (each metric's ``aggregate``).

:func:`run_plan` drives the three with one writer for the journal and the result file.
"""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from . import pipeline
from .errors import AssetMissingError, SrbenchError
from .inference import EVAL_THREADS
from .int8_recipes import (
    CALIBRATION_BATCH,
    CALIBRATION_PATCH,
    CALIBRATION_PATCHES,
    MIN_CALIBRATION_PATCHES,
    default_recipe,
    get_recipe,
)
from .metrics import build_metric, get_metric, metric_notes
from .protocols import CANONICAL, Protocol, get_protocol
from .results import SCHEMA_VERSION, ResultStore, environment, identity_key, result_stem
from .sources import Source, make_runner, resolve_source

log = logging.getLogger(__name__)

DEFAULT_METRICS = ("psnr", "ssim")


@dataclass(frozen=True)
class MetricPlan:
    name: str
    settings: dict = field(default_factory=dict)

    def build(self, device: str):
        return build_metric(self.name, device, **self.settings)


@dataclass
class Plan:
    source: Source
    dataset: object  # srbench.datasets.Dataset
    samples: list
    scale: int
    protocol: Protocol
    metrics: tuple[MetricPlan, ...]
    device: str
    precision: str
    tile: int | None
    tile_overlap: int
    limit: int | None
    identity: dict
    key: str
    unavailable: dict
    metric_assets: dict
    manifest: dict
    lr_cache_dir: str | None = None
    images_dir: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    @property
    def needs(self) -> set:
        return {get_metric(m.name).input for m in self.metrics}

    @property
    def stem(self) -> str:
        return result_stem(self.label, self.dataset.card.name, self.scale, self.protocol.name, self.precision, self.key)


def resolve_protocol(name: str | None, card) -> Protocol:
    """``paper`` -> the model card's own protocol; None -> canonical."""
    if name is None:
        name = CANONICAL
    if not str(name).strip():
        raise SrbenchError("the protocol name is empty: name one (srbench list protocols) or leave it out for "
                           f"the default ({CANONICAL})")
    if name == "paper":
        if card is None:
            raise SrbenchError("--protocol paper needs a model card (it names the paper's protocol); name a protocol")
        name = card.paper_protocol
    return get_protocol(name)


def resolve_scale(card, scale: int | None) -> int:
    if scale is not None:
        scale = pipeline.check_scale(scale)
    if card is None:
        if scale is None:
            raise SrbenchError("pass the scale (--scale)")
        return scale
    if scale is None:
        if card.default_scale is None and len(card.scales) != 1:
            raise SrbenchError(f"model '{card.name}' supports {', '.join(f'x{s}' for s in card.scales)}; pass --scale")
        scale = card.default_scale or card.scales[0]
    card.check_scale(scale)
    return scale


def resolve_metrics(metrics, card) -> list[str]:
    if metrics is None:
        metrics = (card.default_metrics if card is not None and card.default_metrics else DEFAULT_METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    names = list(dict.fromkeys(get_metric(m).name for m in metrics))
    if not names:
        raise SrbenchError("no metrics given; e.g. --metrics psnr,ssim")
    return names


def make_plan(model, dataset, scale: int | None = None, *, protocol: str | None = None, metrics=None,
              data_root=None, device: str = "cpu", precision: str = "fp32", tile: int | None = None,
              tile_overlap: int = 0, limit: int | None = None, label: str | None = None, io=None,
              source: Source | None = None, lr_cache_dir=None, images_dir=None, only: set | None = None,
              calibration: dict | None = None, allow_incomplete: bool = False) -> Plan:
    """Resolve and check everything a run needs, without running a model (see the module docstring).

    ``only``: evaluate just these images of the set (file names); the result is then a subset.
    ``precision="int8"``: post-training static quantisation, calibrated as ``calibration`` says
    (``set``, ``images``, ``patch``, ``patches``, ``recipe``; defaults in :data:`CALIBRATION`).
    A copy of the set that is not the whole, verified set (missing, extra, altered or unreadable
    images) is refused unless ``allow_incomplete``: its result is then a labelled subset, kept out of
    leaderboards and baselines."""
    from .datasets import open_dataset
    from .inference import PRECISIONS, resolve_device

    if scale is not None:
        scale = pipeline.check_scale(scale)  # before a builder sees it
    if source is None:
        source = resolve_source(model, scale, label, io)
    card = source.card
    scale = resolve_scale(card, scale)
    proto = resolve_protocol(protocol, card)
    if precision not in (*PRECISIONS, "int8"):
        raise SrbenchError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)}, int8")
    if tile is not None and (tile <= 0 or tile_overlap < 0):
        raise SrbenchError("--tile must be positive and --tile-overlap non-negative")
    dev = str(resolve_device(device))
    names = resolve_metrics(metrics, card)
    specs = [get_metric(n) for n in names]
    pipeline.check_compatible(proto, source.io, specs, source.label, model=not source.provides_sr)

    ds = open_dataset(dataset, data_root) if isinstance(dataset, str) else dataset
    manifest = ds.verify()
    incomplete = ds.problems(manifest)
    if incomplete and not allow_incomplete:
        raise SrbenchError(f"{ds.card.name} at {ds.root} is not the whole set ({incomplete}); restore the files "
                           f"(srbench fetch --dataset {ds.card.name}) or pass --allow-incomplete to score the "
                           "images present as a labelled subset")
    if precision == "int8":
        source = _quantized(source, proto, scale, ds, data_root, calibration or {})
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise SrbenchError(f"limit must be a positive whole number of images, got {limit!r}")
        if limit >= len(ds.samples):
            limit = None  # the whole set: the same result as no limit
    samples = ds.samples[:limit] if limit else list(ds.samples)
    if only is not None:
        samples = [s for s in samples if s.name in only]
    _check_unique_names(samples, ds)

    plans, unavailable, assets = [], {}, {}
    for spec in specs:
        settings = pipeline.metric_settings(proto, spec)
        mp = MetricPlan(spec.name, settings)
        try:
            assets[spec.name] = mp.build(dev).assets()
        except AssetMissingError as exc:
            # A metric whose parameter file is missing is reported once; the others are computed.
            unavailable[spec.name] = str(exc)
            log.warning("%s not computed: %s", spec.name, exc)
            continue
        plans.append(mp)
    if not plans:
        raise SrbenchError("none of the requested metrics can be computed: " + "; ".join(unavailable.values()))

    if lr_cache_dir is not None:
        from .files import ensure_dir

        ensure_dir(Path(lr_cache_dir))  # an unusable SRBENCH_HOME is one error here, not one per image
    shipped = pipeline.uses_shipped_lr(proto) and not source.io.same_size
    identity = {
        "model": source.identity(),
        "io": source.io.to_dict(),
        "dataset": {"name": ds.card.name, "fingerprint": ds.fingerprint(samples, scale, shipped), "n_images": len(samples),
                    # only a subset carries this key: the identities of whole-set results are unchanged
                    **({"incomplete": incomplete} if incomplete else {})},
        "scale": scale,
        "limit": limit,
        "tile": [tile, tile_overlap] if tile else None,
        "precision": precision,
        "device": dev.split(":")[0],
        "protocol": proto.to_dict(),
        "metrics": {m.name: m.settings for m in plans},
    }
    if source.identity().get("kind") == "callable":
        identity["model"]["run"] = uuid.uuid4().hex  # no fingerprint: never resumed or matched
    key = identity_key(identity)
    return Plan(source, ds, samples, scale, proto, tuple(plans), dev, precision, tile, tile_overlap, limit,
                identity, key, unavailable, assets, manifest,
                lr_cache_dir=None if lr_cache_dir is None else str(lr_cache_dir),
                images_dir=None if images_dir is None else str(images_dir))


# int8 by default: the measured default recipe for this CPU (srbench.int8_recipes.default_recipe),
# calibrated on LR patches of the embedded demo set (offline, never a benchmark set): all 5 photos,
# 64 patches of 32 x 32.
CALIBRATION = {"set": "demo", "images": 5, "patch": CALIBRATION_PATCH, "patches": CALIBRATION_PATCHES,
               "recipe": None}


_QUANTIZED: OrderedDict = OrderedDict()  # the same model, protocol, scale and calibration: quantised once


def _quantized(source: Source, proto: Protocol, scale: int, ds, data_root, calibration: dict) -> Source:
    """``source`` quantised to int8 (once here, so a model that cannot be quantised fails before any image)."""
    from .datasets import open_dataset
    from .sources import CardSource, ModuleSource, OnnxInt8Source, QuantizedSource

    unknown = sorted(set(calibration) - set(CALIBRATION))
    if unknown:
        raise SrbenchError(f"unknown calibration setting(s) {', '.join(unknown)}; known: {', '.join(CALIBRATION)}")
    cal = {**CALIBRATION, **{k: v for k, v in calibration.items() if v is not None}}
    if not isinstance(source, (CardSource, ModuleSource)):
        raise SrbenchError(f"--precision int8 quantises torch models (zoo cards, card files, modules); "
                           f"'{source.label}' is not one")
    calib_set = open_dataset(cal["set"], data_root)
    if calib_set.card.name == ds.card.name:
        raise SrbenchError(f"the int8 calibration set must not be the evaluated set ({ds.card.name}); "
                           "choose another with --calibration-set")
    if not 1 <= int(cal["images"]) <= len(calib_set.samples):
        raise SrbenchError(f"--calibration-images must be 1..{len(calib_set.samples)} for {calib_set.card.name}")
    if int(cal["patches"]) < MIN_CALIBRATION_PATCHES:
        raise SrbenchError(f"int8 calibration needs at least {MIN_CALIBRATION_PATCHES} LR patches, not {cal['patches']}")
    recipe = get_recipe(cal["recipe"] or default_recipe())
    samples = calib_set.samples[:int(cal["images"])]
    calib = {"set": calib_set.card.name, "images": [s.name for s in samples],
             "fingerprint": calib_set.fingerprint(samples, scale, False), "patch": int(cal["patch"]),
             "patches": int(cal["patches"])}
    key = identity_key({"model": source.identity(), "protocol": proto.to_dict(), "scale": scale,
                        "recipe": recipe.to_dict(), "calibration": calib})
    if key not in _QUANTIZED:
        inputs = pipeline.calibration_inputs(proto, source.io, samples, scale, int(cal["patch"]), int(cal["patches"]),
                                             CALIBRATION_BATCH)
        kind = OnnxInt8Source if recipe.backend == "onnxruntime" else QuantizedSource
        quantized = kind(source.label, source.io, source.card, base=source, recipe_spec=recipe,
                         calibration=calib, inputs=inputs)
        quantized.build(scale)  # the recipe, and a clear error now for a model that cannot be quantised
        while len(_QUANTIZED) >= 4:
            _QUANTIZED.popitem(last=False)
        _QUANTIZED[key] = quantized
    return _QUANTIZED[key]


def _check_unique_names(samples, ds) -> None:
    seen: dict[str, str] = {}
    for s in samples:
        if s.name in seen:
            raise SrbenchError(f"{ds.card.name}: two images are named {s.name}; rename one")
        seen[s.name] = s.name


# ---------------------------------------------------------------------------------------------
# the unit


class _Runtime:
    """What one process builds once per plan: the model runner and the metric implementations."""

    def __init__(self, plan: Plan):
        self.runner = None if plan.source.provides_sr else make_runner(
            plan.source, plan.scale, plan.device, plan.precision, plan.tile, plan.tile_overlap)
        self.metrics = [(m.name, m.build(plan.device)) for m in plan.metrics]


_RUNTIMES: OrderedDict[str, _Runtime] = OrderedDict()


def runtime_for(plan: Plan) -> _Runtime:
    """The runner and metric implementations of ``plan`` in this process (built on first use)."""
    rt = _RUNTIMES.get(plan.run_id)
    if rt is None:
        while len(_RUNTIMES) >= 2:  # keep memory bounded: only the latest plans stay built
            _RUNTIMES.popitem(last=False)
        rt = _RUNTIMES[plan.run_id] = _Runtime(plan)
    _RUNTIMES.move_to_end(plan.run_id)
    return rt


class _Threads:
    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(EVAL_THREADS)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


def process_image(plan: Plan, sample, runtime: _Runtime | None = None):
    """One image through the pipeline: (record without metric values, Prepared pair, SR uint8)."""
    rt = runtime or runtime_for(plan)
    p, s, io = plan.protocol, plan.scale, plan.source.io
    t0 = time.perf_counter()
    loaded = pipeline.load(p, sample, s, io.same_size)
    t1 = time.perf_counter()
    if plan.source.provides_sr:
        from .io import decode_image

        sr, lr_source, forward = decode_image(plan.source.files[sample.name]).pixels, "sr-file", 0.0
    else:
        lr, lr_source = pipeline.make_lr(p, loaded, sample, s, io.same_size,
                                         Path(plan.lr_cache_dir) if plan.lr_cache_dir else None)
        t1 = time.perf_counter()
        sr, forward = pipeline.super_resolve(p, io, rt.runner, lr, s, f"model '{plan.label}' on {sample.name}",
                                             loaded.gray)
    sr = pipeline.check_sr(p, sr, loaded, f"model '{plan.label}'")
    t2 = time.perf_counter()
    pair = pipeline.prepare(p, s, sample.name, sr, loaded.hr, loaded.gray, plan.needs)
    rec = {"name": sample.name, "gray": loaded.gray, "lr": lr_source,
           "dtype": "uint8 (SR file)" if rt.runner is None else rt.runner.dtype()}
    if loaded.alpha_dropped:
        rec["alpha_dropped"] = True
    rec["time_ms"] = {"load": _ms(t1 - t0), "forward": _ms(forward), "sr": _ms(t2 - t1),
                      "prepare": _ms(time.perf_counter() - t2)}
    return rec, pair, sr


def _ms(seconds: float) -> float:
    return round(1000.0 * seconds, 3)


def evaluate_shard(plan: Plan, samples) -> list[dict]:
    """The per-image unit over a shard: one record per image, metrics batched over the shard."""
    import math

    with _Threads():
        rt = runtime_for(plan)
        records, pairs = [], []
        for sample in samples:
            rec, pair, sr = process_image(plan, sample, rt)
            if plan.images_dir is not None:
                _save_sr(plan, sample, sr)
            records.append(rec)
            pairs.append(pair)
        for name, metric in rt.metrics:
            t0 = time.perf_counter()
            try:
                values = metric.batch_details(pairs)
            except SrbenchError as exc:
                where = pairs[0].name if len(pairs) == 1 else f"one of {', '.join(p.name for p in pairs)}"
                raise SrbenchError(f"{name} on {where}: {exc}") from None
            for rec, (v, extra) in zip(records, values):
                rec.update(extra)
                v = float(v)
                if math.isnan(v) or (math.isinf(v) and not (name.startswith("psnr") and v > 0)):
                    raise SrbenchError(f"{name} of {plan.label} on {rec['name']} is {v}: not a score "
                                       "(a flat or degenerate image?)")
                rec[name] = v
            share = _ms((time.perf_counter() - t0) / max(len(records), 1))
            for rec in records:
                rec["time_ms"][name] = share
    return records


def _save_sr(plan: Plan, sample, sr) -> None:
    from .io import write_png

    folder = Path(plan.images_dir) / plan.stem
    write_png(sr, folder / f"{sample.stem}.png")


# ---------------------------------------------------------------------------------------------
# aggregate


def aggregate(plan: Plan, records: list[dict], started: float | None = None, command: str | None = None) -> dict:
    """The result document of a plan from one record per image (in the set's order)."""
    by_name = {r["name"]: r for r in records}
    missing = [s.name for s in plan.samples if s.name not in by_name]
    if missing:
        raise SrbenchError(f"internal: {len(missing)} image(s) have no record ({', '.join(missing[:3])})")
    records = [by_name[s.name] for s in plan.samples]
    card, ds = plan.source.card, plan.dataset
    metrics = {m.name: get_metric(m.name).reduce([r[m.name] for r in records]) for m in plan.metrics}
    info = {}
    for m in plan.metrics:
        spec = get_metric(m.name)
        info[m.name] = {**spec.to_dict(m.settings), "input": pipeline.input_description(plan.protocol, spec, plan.scale)}
        info[m.name].update(metric_notes(m.name, records))
        if "note" in info[m.name]:
            log.warning("%s on %s: %s %s", plan.label, ds.card.name, m.name, info[m.name]["note"])
    lr_counts: dict[str, int] = {"shipped": 0, "generated": 0, "cached": 0}
    for r in records:
        lr_counts[r["lr"]] = lr_counts.get(r["lr"], 0) + 1
    forward = [r["time_ms"]["forward"] for r in records]
    complexity = _complexity(plan)
    timings = {k: round(sum(r["time_ms"].get(k, 0.0) for r in records) / 1000.0, 3)
               for k in ("load", "forward", "sr", "prepare", *plan.metric_names)}
    if started is not None:
        timings["total"] = round(time.perf_counter() - started, 3)
    return {
        "schema_version": SCHEMA_VERSION,
        "identity_key": plan.key,
        "model": plan.label,
        "model_title": card.title if card is not None else plan.label,
        "dataset": ds.card.name,
        "dataset_title": ds.card.title,
        "scale": plan.scale,
        "protocol": plan.protocol.to_dict(),
        "metrics": metrics,
        "metric_info": info,
        "metrics_unavailable": plan.unavailable,
        "n_images": len(records),
        "images": records,
        "complexity": complexity,
        "efficiency": {
            "params": (complexity or {}).get("params"),
            "macs_g": (complexity or {}).get("macs_g"),
            "convention": (complexity or {}).get("convention"),
            "forward_ms": _stats(forward) if not plan.source.provides_sr else None,
            **_device_info(plan.device),
        },
        "published": [r for r in (card.published if card is not None else ())
                      if r["dataset"] == ds.card.name and r["scale"] == plan.scale],
        "identity": plan.identity,
        "provenance": {
            **environment(),
            "device": plan.device,
            "dtype": records[0]["dtype"] if records else None,
            "precision": plan.precision,
            "eval_threads": EVAL_THREADS,
            "tile": plan.tile,
            "tile_overlap": plan.tile_overlap if plan.tile else None,
            "io": plan.source.io.to_dict(),
            "weights": plan.source.weights(plan.scale),
            "quantization": getattr(plan.source, "recipe", None),
            "metric_assets": plan.metric_assets,
            "dataset": {"root": str(ds.root), "layout": ds.layout, "n_images": len(ds.samples), "limit": plan.limit,
                        "complete": len(records) == len(ds.samples) and "incomplete" not in plan.identity["dataset"],
                        **({"incomplete": plan.identity["dataset"]["incomplete"]}
                           if "incomplete" in plan.identity["dataset"] else {}),
                        "fingerprint": plan.identity["dataset"]["fingerprint"],
                        **{k: plan.manifest[k] for k in ("manifest", "verified")}, "lr": lr_counts,
                        "alpha_dropped": sum(1 for r in records if r.get("alpha_dropped"))},
            "command": command,
        },
        "timings_s": timings,
    }


def _stats(values: list[float]) -> dict | None:
    if not values:
        return None
    qs = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"n": len(values), "mean": round(statistics.fmean(values), 3), "median": round(qs[1], 3),
            "p25": round(qs[0], 3), "p75": round(qs[2], 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def _device_info(device: str) -> dict:
    import torch

    from .runtime import timing_environment

    env = timing_environment(torch.device(device), EVAL_THREADS)
    if device.startswith("cuda"):
        env["threads"] = None
    return env


def _complexity(plan: Plan) -> dict | None:
    """Params and Mult-Adds (hr720) for card models and torch modules; None for callables and folders."""
    from .complexity import card_complexity, profile_module

    try:
        if plan.source.card is not None:
            return card_complexity(plan.source.card, plan.scale)
        module = getattr(plan.source, "module", None)
        if module is not None:
            return profile_module(module, plan.scale, plan.source.io, convention="hr720")
    except SrbenchError:
        raise
    except Exception as exc:  # counting is informative; never lose a run over it
        log.warning("complexity of %s x%d not counted: %s", plan.label, plan.scale, exc)
    return None


# ---------------------------------------------------------------------------------------------
# the driver


def shards(samples: list, size: int) -> list[list]:
    return [samples[i:i + size] for i in range(0, len(samples), size)]


def complete(doc: dict, plan: Plan) -> bool:
    """A finished result usable as it is for this plan."""
    return (doc.get("identity_key") == plan.key and doc.get("n_images") == len(plan.samples)
            and all(m in doc.get("metrics", {}) for m in plan.metric_names))


def run_plan(plan: Plan, *, out_dir=None, resume: bool = False, executor=None, on_images=None,
             command: str | None = None, shard_size: int | None = None) -> dict:
    """Evaluate a plan. With ``out_dir``: one writer (lock), a journal that survives interruption,
    ``resume`` reusing a finished result or the journal's valid records. ``on_images(n)`` reports
    progress; ``executor`` defaults to in-process."""
    from .executors import LocalExecutor

    executor = executor or LocalExecutor()
    started = time.perf_counter()
    names = {s.name for s in plan.samples}
    if out_dir is None:
        records = _run(plan, plan.samples, executor, shard_size, on_images, None)
        return aggregate(plan, records, started, command)
    if plan.identity["model"].get("kind") == "callable" and resume:
        raise SrbenchError(f"model '{plan.label}' is a callable without a fingerprint: its results cannot be resumed")
    with ResultStore(Path(out_dir), plan.stem, plan.identity, plan.key) as store:
        done: dict[str, dict] = {}
        if resume:
            doc = store.finished()
            if doc is not None and complete(doc, plan):
                if on_images:
                    on_images(len(plan.samples))
                return doc
            done = store.journal.load(names, plan.metric_names)
        store.journal.start([done[s.name] for s in plan.samples if s.name in done])
        if on_images and done:
            on_images(len(done))
        todo = [s for s in plan.samples if s.name not in done]
        records = list(done.values()) + _run(plan, todo, executor, shard_size, on_images, store.journal)
        doc = aggregate(plan, records, started, command)
        store.write(doc)
        return doc


def _run(plan: Plan, samples: list, executor, shard_size, on_images, journal) -> list[dict]:
    out: list[dict] = []
    size = shard_size or executor.shard_size(len(samples), plan.device)
    for recs in executor.map(evaluate_shard, plan, shards(samples, size)):
        if journal is not None:
            journal.append(recs)
        out.extend(recs)
        if on_images:
            on_images(len(recs))
    return out


def evaluate(model, dataset, scale: int | None = None, *, protocol: str | None = None, metrics=None,
             data_root=None, device: str = "cpu", precision: str = "fp32", tile: int | None = None,
             tile_overlap: int = 0, limit: int | None = None, label: str | None = None, io=None,
             out_dir=None, resume: bool = False, save_images: bool = False, workers: int = 1,
             executor=None, progress: bool = False, command: str | None = None,
             calibration: dict | None = None, allow_incomplete: bool = False) -> dict:
    """Evaluate ``model`` on ``dataset`` at ``scale``; returns the result document (see README).

    ``model``: a zoo name, a card file (``.toml``), ``"module:builder"``, a ``torch.nn.Module``
    (``io`` declares its convention: RGB, values in [0, 1], s x the input size by default) or any
    callable mapping an LR uint8 HxWx3 array to an SR array (uint8, or floats in [0, 255]).
    ``dataset``: a set name or ``folder:PATH``. Nothing is written unless ``out_dir`` is given.
    ``calibration``: with ``precision="int8"``, as the CLI's ``--calibration-set``/``--int8-recipe``
    (keys ``set``, ``images``, ``patch``, ``patches``, ``recipe``).
    ``allow_incomplete``: score a set copy that is not the whole set as a labelled subset (see :func:`make_plan`).
    """
    from .executors import make_executor

    plan = make_plan(model, dataset, scale, protocol=protocol, metrics=metrics, data_root=data_root, device=device,
                     precision=precision, tile=tile, tile_overlap=tile_overlap, limit=limit, label=label, io=io,
                     calibration=calibration, lr_cache_dir=lr_cache_dir() if out_dir is not None else None,
                     allow_incomplete=allow_incomplete,
                     images_dir=Path(out_dir) / "images" if (save_images and out_dir is not None) else None)
    own = executor is None
    executor = executor or make_executor("local" if workers == 1 else "process", workers=workers)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(plan.samples), desc=f"{plan.label} {plan.dataset.card.name} x{plan.scale}",
                   unit="img", leave=False)
    try:
        return run_plan(plan, out_dir=out_dir, resume=resume, executor=executor,
                        on_images=bar.update if bar else None, command=command)
    finally:
        if bar is not None:
            bar.close()
        if own:
            executor.close()


def lr_cache_dir() -> Path:
    from .assets import home

    return home() / "lr_cache"
