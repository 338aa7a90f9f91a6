"""The metric registry: specs registered by their implementation modules, found lazily.
"""

from __future__ import annotations

from srbench.metrics.spec import Metric, MetricSpec
from srbench.registry import Registry, import_object

METRICS: Registry[MetricSpec] = Registry("metric")


def register(spec: MetricSpec, aliases: tuple[str, ...] = ()) -> None:
    METRICS.register(spec.name, spec, aliases=aliases)


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
