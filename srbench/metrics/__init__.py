"""Metric specs (validated data, with display metadata) and the small metric contract.

A metric implementation is built as ``cls(device=..., **settings)`` and sees only a
:class:`srbench.pipeline.Prepared` pair, never the protocol (the pipeline prepares exactly the input
the spec names in ``input``: the protocol's shaved Y pair, the shaved RGB pair, the LPIPS pair or
the no-reference grey image)::

    class Metric:
        def __call__(self, pair) -> float
        def batch(self, pairs) -> list[float]        # default: one by one
        def batch_details(self, pairs) -> list[tuple[float, dict]]  # value + extra record fields
        def assets(self) -> dict[str, str]           # every file it uses -> sha256, for provenance

The set value is the spec's ``aggregate`` of the per-image values (``mean``: the literature's
convention; PI's set value (mean NIQE + 10 - mean Ma) / 2 equals the mean of per-image PI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import SrbenchError
from ..registry import Registry, import_object

Input = Literal["y", "rgb", "lpips", "nr"]
AGGREGATES = {"mean": lambda values: float(np.mean(values))}


@dataclass(frozen=True)
class MetricSpec:
    name: str
    title: str  # column title in tables and plots
    higher_is_better: bool
    input: Input  # what the pipeline prepares for it
    value_range: tuple[float | None, float | None]
    unit: str
    description: str
    impl: str  # "module:Class"
    fmt: str  # number format in tables, e.g. ".2f"
    tolerance: float  # default absolute tolerance of the regression gate
    settings: dict = field(default_factory=dict)  # fixed constructor settings
    # constructor settings taken from the protocol: setting -> protocol field (the pipeline resolves them)
    protocol_settings: dict = field(default_factory=dict)
    aggregate: str = "mean"

    def __post_init__(self):
        if self.input not in ("y", "rgb", "lpips", "nr"):
            raise SrbenchError(f"metric '{self.name}': unknown input '{self.input}'")
        if self.aggregate not in AGGREGATES:
            raise SrbenchError(f"metric '{self.name}': unknown aggregate '{self.aggregate}'")

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def needs_reference(self) -> bool:
        return self.input != "nr"

    @property
    def needs_rgb(self) -> bool:
        return self.input in ("rgb", "lpips")

    def to_dict(self, settings: dict | None = None) -> dict:
        return {
            "name": self.name, "title": self.title, "higher_is_better": self.higher_is_better,
            "needs_reference": self.needs_reference, "input": self.input, "value_range": list(self.value_range),
            "unit": self.unit, "aggregate": self.aggregate,
            "settings": {**self.settings, **(settings or {})},
        }

    def reduce(self, values: list[float]) -> float:
        return AGGREGATES[self.aggregate](values)


class Metric:
    """Base of srbench's metric implementations (the contract in the module docstring)."""

    spec: MetricSpec

    def __call__(self, pair) -> float:
        raise NotImplementedError

    def batch(self, pairs) -> list[float]:
        return [self(p) for p in pairs]

    def batch_details(self, pairs) -> list[tuple[float, dict]]:
        """Each value with the extra fields it adds to the image's record (NIQE: its conditioning)."""
        return [(v, {}) for v in self.batch(pairs)]

    def assets(self) -> dict[str, str]:
        return {}


METRICS: Registry[MetricSpec] = Registry("metric")


def register(spec: MetricSpec, aliases: tuple[str, ...] = ()) -> None:
    METRICS.register(spec.name, spec, aliases=aliases)


register(MetricSpec(
    "psnr", "PSNR", True, "y", (0.0, None), "dB",
    "Y-channel PSNR (the protocol's Y), border shaved, per image then mean",
    "srbench.metrics.fidelity:PSNR", ".2f", 0.01,
), aliases=("psnr_y",))
register(MetricSpec(
    "ssim", "SSIM", True, "y", (-1.0, 1.0), "",
    "Y-channel SSIM (Wang et al. 2004, gaussian 11x11 sigma 1.5; the protocol's variant), border shaved",
    "srbench.metrics.fidelity:SSIM", ".4f", 0.0005, protocol_settings={"variant": "ssim"},
), aliases=("ssim_y",))
register(MetricSpec(
    "psnr_rgb", "PSNR-RGB", True, "rgb", (0.0, None), "dB",
    "PSNR over the three RGB channels, border shaved like Y-PSNR",
    "srbench.metrics.fidelity:PSNR", ".2f", 0.01,
))
# Perceptual metrics (SPEC §5). `lpips` uses the protocol's network and shave; lpips_alex/lpips_vgg
# name the network. NIQE, Ma and PI are no-reference: the protocol's nr_luma / nr_shave input.
register(MetricSpec(
    "lpips", "LPIPS", False, "lpips", (0.0, 1.0), "",
    "LPIPS v0.1, the protocol's network (AlexNet unless it says VGG), official lpips package, RGB in [-1, 1]",
    "srbench.metrics.lpips:LPIPS", ".4f", 0.002,
    protocol_settings={"net": "lpips_net", "version": "lpips_version"},
))
register(MetricSpec(
    "lpips_alex", "LPIPS-Alex", False, "lpips", (0.0, 1.0), "",
    "LPIPS v0.1 (AlexNet), official lpips package, torchvision ImageNet backbone, RGB in [-1, 1]",
    "srbench.metrics.lpips:LPIPS", ".4f", 0.002, settings={"net": "alex", "version": "0.1"},
))
register(MetricSpec(
    "lpips_vgg", "LPIPS-VGG", False, "lpips", (0.0, 1.0), "",
    "LPIPS v0.1 (VGG16), official lpips package, torchvision ImageNet backbone, RGB in [-1, 1]",
    "srbench.metrics.lpips:LPIPS", ".4f", 0.002, settings={"net": "vgg", "version": "0.1"},
))
register(MetricSpec(
    "dists", "DISTS", False, "lpips", (0.0, 1.0), "",
    "DISTS (Ding et al. 2020), official dists-pytorch 0.1 alpha/beta, torchvision VGG16 ImageNet backbone, "
    "whole RGB image / 255 (no resize), shaved as the protocol's lpips_shave",
    "srbench.metrics.dists:DISTS", ".4f", 0.002,
))
register(MetricSpec(
    "niqe", "NIQE", False, "nr", (0.0, None), "",
    "NIQE (Mittal et al. 2013, official release modelparameters.mat), 96x96 blocks, float64",
    "srbench.metrics.niqe:NIQE", ".3f", 0.01,
))
register(MetricSpec(
    "ma", "Ma", True, "nr", (0.0, 10.0), "",
    "Ma et al. (NRQM) no-reference score, authors' regression-forest model.mat (user-supplied)",
    "srbench.metrics.ma:Ma", ".3f", 0.01,
), aliases=("nrqm",))
register(MetricSpec(
    "pi", "PI", False, "nr", (0.0, None), "",
    "Perceptual Index = ((10 - Ma) + NIQE) / 2 (PIRM-2018)",
    "srbench.metrics.ma:PI", ".3f", 0.01,
))


def metric_notes(name: str, records: list[dict]) -> dict:
    """What the set value of metric ``name`` must say about its images (for ``metric_info``): the images
    whose value is ill-conditioned (NIQE on flat areas, ``<name>_conditioning`` in their record), and the
    metric's agreement certificate (:mod:`srbench.certify`) where it has one."""
    from ..certify import certificate_info

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


def compute(name: str, sr, hr=None, *, scale: int | None = None, protocol: str = "matlab", device: str = "cpu",
            **settings) -> float:
    """One metric on one image (uint8 HxWx3, or HxW for a grey image) under ``protocol``.

    ``settings`` override protocol fields (validated), e.g. ``compute("niqe", img, nr_luma="gray",
    nr_shave=0)`` is NIQE exactly as the official release computes it. A no-reference metric needs
    no ``hr``; ``scale`` is needed where the protocol shaves by the scale. A single-channel image
    follows the grey rule of the protocol, as in :func:`srbench.evaluate`.
    """
    from .. import pipeline
    from ..protocols import get_protocol

    spec = get_metric(name)
    proto = get_protocol(protocol).with_settings(**settings)
    metric = build_metric(spec.name, device, **pipeline.metric_settings(proto, spec))
    pair = pipeline.prepare_arrays(proto, sr, hr, scale, {spec.input})
    return float(metric(pair))
