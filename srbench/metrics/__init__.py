"""Metric registry and the per-image data every metric sees.

A metric implementation is a class built as ``cls(protocol, device="cpu")`` and called on an
:class:`ImagePair` (``__call__(pair) -> float``); it may add ``batch(pairs) -> list[float]``.
Set values are the mean of per-image values (the literature's convention; PI's set value
(mean NIQE + 10 - mean Ma) / 2 equals the mean of per-image PI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..color import gray_of, rgb_to_y
from ..imresize import round_uint8
from ..protocols import Protocol, get_protocol
from ..registry import Registry


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool
    needs_reference: bool
    value_range: tuple[float | None, float | None]
    unit: str
    description: str
    impl: str  # "module:Class"
    settings: dict = field(default_factory=dict)
    needs_rgb: bool = False  # cannot run under a Y-only protocol

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "higher_is_better": self.higher_is_better,
            "needs_reference": self.needs_reference,
            "value_range": list(self.value_range),
            "unit": self.unit,
            "settings": self.settings,
        }


def protocol_y(img: np.ndarray, gray: bool, protocol: Protocol) -> np.ndarray:
    """The Y (float64, [0, 255] scale) that ``protocol`` computes PSNR/SSIM on.

    A grey source under ``gray = "as-y"`` is its own Y (MATLAB scripts use a single-channel image
    directly); an RGB output for it is brought back to one channel with full-range BT.601 luma.
    """
    if img.ndim == 2:
        y = img.astype(np.float64)
    elif gray and protocol.gray == "as-y":
        y = gray_of(img)
    else:
        return rgb_to_y(img, rounded=protocol.y_rounding)
    return round_uint8(y).astype(np.float64) if protocol.y_rounding else y


@dataclass
class ImagePair:
    """One evaluated image: uint8 RGB SR and HR (None under a Y-only protocol) and the protocol's Y."""

    name: str
    scale: int
    protocol: Protocol
    sr: np.ndarray | None = None
    hr: np.ndarray | None = None
    gray: bool = False
    sr_y_given: np.ndarray | None = None
    hr_y_given: np.ndarray | None = None

    @cached_property
    def sr_y(self) -> np.ndarray:
        return self.sr_y_given if self.sr_y_given is not None else protocol_y(self.sr, self.gray, self.protocol)

    @cached_property
    def hr_y(self) -> np.ndarray:
        return self.hr_y_given if self.hr_y_given is not None else protocol_y(self.hr, self.gray, self.protocol)


METRICS: Registry[MetricSpec] = Registry("metric")


def register(spec: MetricSpec, aliases: tuple[str, ...] = ()) -> None:
    METRICS.register(spec.name, spec, aliases=aliases)


register(
    MetricSpec(
        "psnr", True, True, (0.0, None), "dB",
        "Y-channel PSNR (protocol's luma), border shaved, per image then mean",
        "srbench.metrics.fidelity:PSNR",
        {"space": "y", "shave": "protocol"},
    ),
    aliases=("psnr_y",),
)
register(
    MetricSpec(
        "ssim", True, True, (-1.0, 1.0), "",
        "Y-channel SSIM (Wang et al. 2004, gaussian 11x11 sigma 1.5), border shaved",
        "srbench.metrics.fidelity:SSIM",
        {"space": "y", "shave": "protocol"},
    ),
    aliases=("ssim_y",),
)
register(
    MetricSpec(
        "psnr_rgb", True, True, (0.0, None), "dB",
        "PSNR over the three RGB channels, border shaved like Y-PSNR",
        "srbench.metrics.fidelity:PSNRRGB",
        {"space": "rgb", "shave": "protocol"},
        needs_rgb=True,
    ),
)

# Perceptual metrics (SPEC §5). LPIPS is on RGB uint8 (shave per protocol.lpips_shave); NIQE, Ma and
# PI are no-reference and see the protocol's nr_luma / nr_shave (PIRM-2018 by default).
register(
    MetricSpec(
        "lpips", False, True, (0.0, 1.0), "",
        "LPIPS v0.1 (AlexNet), official lpips package, torchvision ImageNet backbone, RGB in [-1, 1]",
        "srbench.metrics.lpips:LPIPSAlex",
        {"net": "alex", "version": "0.1", "shave": "protocol.lpips_shave", "input": "uint8 / 127.5 - 1"},
        needs_rgb=True,
    ),
    aliases=("lpips_alex",),
)
register(
    MetricSpec(
        "lpips_vgg", False, True, (0.0, 1.0), "",
        "LPIPS v0.1 (VGG16), official lpips package, torchvision ImageNet backbone, RGB in [-1, 1]",
        "srbench.metrics.lpips:LPIPSVGG",
        {"net": "vgg", "version": "0.1", "shave": "protocol.lpips_shave", "input": "uint8 / 127.5 - 1"},
        needs_rgb=True,
    ),
)
register(
    MetricSpec(
        "niqe", False, False, (0.0, None), "",
        "NIQE (Mittal et al. 2013, official release modelparameters.mat), PIRM-2018 input, float64",
        "srbench.metrics.niqe:NIQE",
        {"input": "protocol.nr_luma", "shave": "protocol.nr_shave", "block": 96},
    ),
)
register(
    MetricSpec(
        "ma", True, False, (0.0, 10.0), "",
        "Ma et al. (NRQM) no-reference score, authors' regression-forest model.mat (not bundled)",
        "srbench.metrics.ma:Ma",
        {"input": "protocol.nr_luma", "shave": "protocol.nr_shave"},
    ),
    aliases=("nrqm",),
)
register(
    MetricSpec(
        "pi", False, False, (0.0, None), "",
        "Perceptual Index = ((10 - Ma) + NIQE) / 2 (PIRM-2018)",
        "srbench.metrics.ma:PI",
        {"input": "protocol.nr_luma", "shave": "protocol.nr_shave"},
    ),
)


def get_metric(name: str) -> MetricSpec:
    return METRICS.get(name)


def build_metric(name: str, protocol: Protocol | str = "matlab", device: str = "cpu"):
    """Instantiate a metric implementation for ``protocol`` on ``device``."""
    import importlib

    spec = get_metric(name)
    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    module_name, attr = spec.impl.split(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(protocol, device=device)


def compute(name: str, sr: np.ndarray, hr: np.ndarray, scale: int, protocol: str = "matlab",
            device: str = "cpu") -> float:
    """One metric on one uint8 HxWx3 SR/HR pair under ``protocol`` (default canonical), as a float."""
    from ..io import check_rgb_uint8

    pair = ImagePair(
        name="image", scale=scale, protocol=get_protocol(protocol),
        sr=check_rgb_uint8(sr, "sr"), hr=check_rgb_uint8(hr, "hr"),
    )
    return float(build_metric(name, pair.protocol, device)(pair))
