"""Phase one of an evaluation: :func:`make_plan` resolves every name once (model source, set,
scale, protocol, metrics, the card's defaults), checks that they fit together, and fixes the result's
identity. ``run``, ``score``, ``compare-visual``, ``sweep`` and the Python API all start here.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from srbench.deploy.int8_recipes import (
    CALIBRATION_BATCH,
    CALIBRATION_PATCH,
    CALIBRATION_PATCHES,
    MIN_CALIBRATION_PATCHES,
    default_recipe,
    get_recipe,
)
from srbench.errors import AssetMissingError, SrbenchError
from srbench.metrics.registry import build_metric, get_metric
from srbench.protocol import pipeline
from srbench.protocol.protocols import CANONICAL, Protocol, get_protocol
from srbench.sources.resolve import resolve_source
from srbench.sources.source import Source
from srbench.store.results import (
    identity_key,
    result_stem,
)

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
    """The protocol of a plan, for the API and the CLI alike: ``None`` -> the card's default protocol,
    else the canonical one; ``paper`` -> the card's own protocol."""
    if name is not None and not str(name).strip():
        raise SrbenchError("the protocol name is empty: name one (srbench list protocols) or leave it out for "
                           "the model card's default, else the canonical one")
    if name is None:
        name = card.default_protocol if card is not None and card.default_protocol else CANONICAL
    if name == "paper":
        if card is None:
            raise SrbenchError("--protocol paper needs a model card (it names the paper's protocol); name a protocol")
        name = card.paper_protocol
    return get_protocol(name)


def resolve_scale(card, scale: int | None) -> int:
    if scale is not None:
        scale = pipeline.check_scale(scale)
    if card is not None:
        return card.resolve_scale(scale)
    if scale is None:
        raise SrbenchError("pass --scale (scale= in Python)")
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
    from srbench.datasets import open_dataset
    from srbench.sources.inference import PRECISIONS, resolve_device

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
        from srbench.store.files import ensure_dir

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


# int8 by default: the measured default recipe for this CPU (srbench.deploy.int8_recipes.default_recipe),
# calibrated on LR patches of the embedded demo set (offline, never a benchmark set): all 5 photos,
# 64 patches of 32 x 32.
CALIBRATION = {"set": "demo", "images": 5, "patch": CALIBRATION_PATCH, "patches": CALIBRATION_PATCHES,
               "recipe": None}


_QUANTIZED: OrderedDict = OrderedDict()  # the same model, protocol, scale and calibration: quantised once


def _quantized(source: Source, proto: Protocol, scale: int, ds, data_root, calibration: dict) -> Source:
    """``source`` quantised to int8 (once here, so a model that cannot be quantised fails before any image)."""
    from srbench.datasets import open_dataset
    from srbench.sources.source import (
        CardSource,
        ModuleSource,
        OnnxInt8Source,
        QuantizedSource,
    )

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


def lr_cache_dir() -> Path:
    from srbench.store.assets import home

    return home() / "lr_cache"
