"""The metric registry: specs registered by their implementation modules, found lazily.
"""

from __future__ import annotations

from srbench.metrics.spec import Metric, MetricSpec
from srbench.registry import Registry, import_object

# The modules that register srbench's metrics (each spec lives beside its implementation); imported
# on the registry's first use, so a new metric is one module added here.
METRIC_MODULES = (
    "srbench.metrics.fidelity", "srbench.metrics.lpips", "srbench.metrics.dists", "srbench.metrics.niqe",
    "srbench.metrics.ma",
)


def _load_metric_modules() -> None:
    import importlib

    for module in METRIC_MODULES:
        importlib.import_module(module)
    # srbench's metrics in the order of METRIC_MODULES (the order of table columns), whichever module
    # was imported first; a stable sort keeps each module's own order
    rank = {m: i for i, m in enumerate(METRIC_MODULES)}
    for spec, aliases in sorted(_PENDING, key=lambda p: rank.get(p[0].impl.split(":")[0], len(rank))):
        METRICS.register(spec.name, spec, aliases=aliases)
    _PENDING.clear()
    global _loaded
    _loaded = True


_PENDING: list = []  # specs registered before the registry's first use
_loaded = False


METRICS: Registry[MetricSpec] = Registry("metric", loader=_load_metric_modules)


def register(spec: MetricSpec, aliases: tuple[str, ...] = ()) -> None:
    """Register a metric spec (a metric module calls this beside its implementation)."""
    if _loaded:
        METRICS.register(spec.name, spec, aliases=aliases)
    else:
        _PENDING.append((spec, aliases))


def metric_notes(name: str, records: list[dict]) -> dict:
    """What the set value of metric ``name`` must say about its images (for ``metric_info``): the images
    whose value is ill-conditioned (NIQE on flat areas, ``<name>_conditioning`` in their record), and the
    metric's agreement certificate (:mod:`srbench.eval.certify`) where it has one."""
    from srbench.metrics.certificates import certificate_info

    out = {}
    key = f"{name}_conditioning"
    flagged = [r["name"] for r in records if r.get(key, {}).get("flagged")]
    if flagged:
        out["ill_conditioned"] = flagged
        out["note"] = (f"the mean includes {len(flagged)} image(s) whose {get_metric(name).title} depends on "
                       f"rounding residues on flat areas by more than 0.1%: {', '.join(flagged[:5])}"
                       + (" …" if len(flagged) > 5 else ""))
    certificate = certificate_info(name)
    if certificate is not None:
        out["certificate"] = certificate
    return out


def get_metric(name: str) -> MetricSpec:
    return METRICS.get(name)


def build_metric(name: str, device: str = "cpu", **settings) -> Metric:
    """The implementation of metric ``name`` with these constructor settings (network metrics load
    their weights once per process, when first used)."""
    spec = get_metric(name)
    cls = import_object(spec.impl, f"metric '{spec.name}'")
    metric = cls(device=str(device), **{**spec.settings, **settings})
    metric.spec = spec
    return metric
