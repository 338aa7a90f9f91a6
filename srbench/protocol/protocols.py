"""Evaluation protocols as validated, versioned data (SPEC §1).

``matlab`` is the canonical protocol of srbench's leaderboards; the others recreate one paper's own
evaluation script exactly. Every field is a setting that changes a number, checked at construction
(an unknown value is an error where the protocol is defined), and read by one module only:
``srbench/protocol/pipeline.py``. Results record every setting; results of different protocols (or
versions) never share a table.
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal, Union

from srbench.errors import SrbenchError
from srbench.registry import Registry

# LR: the set's shipped MATLAB-bicubic LR when present, else generated from the modcropped HR.
LrSource = Literal["dataset-or-generated", "generated"]
# "uint8": MATLAB imresize on uint8 HR (rounded between passes), as stored in LR PNGs;
# "double": imresize(im2double(HR)) kept in float, never written as uint8.
LrResize = Literal["uint8", "double"]
# "rgb": models see the RGB LR; "y": everything happens on Y (LR_Y = imresize(double(uint8 Y(HR))));
# only Y models can run and no RGB metric exists.
Space = Literal["rgb", "y"]
SrRounding = Literal["round", "truncate"]  # float SR -> uint8 after clamping to [0, 255]
# A single-channel image: its own Y (MATLAB scripts) or read as RGB with R = G = B.
Gray = Literal["as-y", "replicate"]
Shave = Union[int, Literal["scale"]]  # border removed on every side: a pixel count or the scale
LpipsNet = Literal["alex", "vgg"]
LpipsVersion = Literal["0.1"]
# The grey image NIQE/Ma see: "y" = Y of MATLAB rgb2ycbcr on uint8 (PIRM-2018), "gray" = MATLAB
# rgb2gray on uint8 (the official NIQE release's computequality.m); both integer-valued.
NrLuma = Literal["y", "gray"]
# SSIM of Wang et al. 2004: "wang2004-valid" = their ssim_index.m (gaussian 11x11 sigma 1.5, 'valid'
# filtering: the map covers only windows inside the image), what RCAN/IMDN/BasicSR compute;
# "matlab-ssim" = MATLAB's built-in ssim() (same gaussian, imfilter 'replicate': a same-size map), what
# LapSRN's evaluate_SR.m calls.
SsimVariant = Literal["wang2004-valid", "matlab-ssim"]
# The images PSNR and SSIM compare: "y" = the protocol's Y (the SR literature); "rgb" = the three
# uint8 RGB channels as float64 (the NTIRE efficient-SR challenges' utils_image.calculate_psnr/ssim:
# MSE over all channels; SSIM the mean of the per-channel valid maps).
Fidelity = Literal["y", "rgb"]

# What srbench's implementation fixes for every protocol (recorded with the settings).
FIXED = {
    "luma": "bt601-matlab: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, R,G,B in [0,255]",
    "ssim_constants": "gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, L 255, no downsampling, mean of the map",
    "psnr_mean": "mean of per-image PSNR",
    "resize_kernel": "matlab-imresize-bicubic (a=-0.5, antialias, symmetric padding, float64)",
}

# Settings added after results were published, with the behaviour every protocol had before them:
# recorded only when a protocol differs, so the identities of earlier results stay what they were.
ADDED_SETTINGS = {"fidelity": "y"}


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    description: str
    source: str
    lr_source: LrSource
    lr_resize: LrResize
    space: Space
    sr_rounding: SrRounding
    y_rounding: bool  # round Y to uint8 (MATLAB rgb2ycbcr on uint8) or keep it float
    gray: Gray
    shave: Shave  # for PSNR and SSIM
    ssim: SsimVariant = "wang2004-valid"
    lpips_net: LpipsNet = "alex"
    lpips_version: LpipsVersion = "0.1"
    lpips_shave: Shave = "scale"
    nr_luma: NrLuma = "y"
    nr_shave: int = 4  # PIRM-2018 shaves 4 px whatever the scale
    fidelity: Fidelity = "y"

    def __post_init__(self):
        hints = typing.get_type_hints(Protocol)
        for f in fields(self):
            value = getattr(self, f.name)
            if not _matches(value, hints[f.name]):
                raise SrbenchError(f"protocol '{self.name}': {f.name}={value!r} is not valid; expected {_describe(hints[f.name])}")
        if self.space == "y" and self.lr_source != "generated":
            raise SrbenchError(f"protocol '{self.name}': a Y-only protocol generates its LR (lr_source='generated')")

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def with_settings(self, **settings) -> Protocol:
        """A copy with some settings replaced (validated); unknown names are an error."""
        known = {f.name for f in fields(self)} - {"name", "version", "description", "source"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise SrbenchError(f"unknown protocol setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if not settings:
            return self
        return replace(self, name=f"{self.name}+custom", **settings)

    def to_dict(self) -> dict:
        d = asdict(self)
        for name, before in ADDED_SETTINGS.items():
            if d[name] == before:
                del d[name]
        return {**d, **FIXED}

    def summary(self) -> dict:
        """The settings that tell protocols apart, in short words (``srbench list protocols``)."""
        return {"version": self.version, "lr": self.lr_resize, "sr": self.sr_rounding,
                "y": "rounded" if self.y_rounding else "float", "grey": self.gray, "shave": self.shave,
                "lpips": f"{self.lpips_net}, shave {self.lpips_shave}"}


def _matches(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(tp))
    if origin is Union:
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is int:
        return type(value) is int and value >= 0
    return isinstance(value, tp)


def _describe(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin is Union:
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    return "a non-negative integer" if tp is int else tp.__name__


PROTOCOLS: Registry[Protocol] = Registry("protocol")

MATLAB = Protocol(
    name="matlab",
    version="1",
    description="canonical: RCAN Evaluate_PSNR_SSIM.m lineage (IMDN, CARN, RCAN, most tables); LPIPS AlexNet, shaved",
    source="yulunzhang/RCAN Evaluate_PSNR_SSIM.m",
    lr_source="dataset-or-generated",
    lr_resize="uint8",
    space="rgb",
    sr_rounding="round",
    y_rounding=False,
    gray="as-y",
    shave="scale",
)
PROTOCOLS.register("matlab", MATLAB, aliases=("canonical",))
# The protocols papers used, as variants of matlab: only what differs is written out.
PROTOCOLS.register("matlab-rgb", replace(
    MATLAB,
    name="matlab-rgb",
    description=("matlab with grey images read as RGB (R = G = B, Y on the 16-235 scale), as in set copies "
                 "storing Set14 bridge in 3 channels: the published Set14 values of IMDN and CARN "
                 "(+0.094 dB on the Set14 mean; identical on sets without grey images)"),
    source="yulunzhang/RCAN Evaluate_PSNR_SSIM.m on 3-channel HR; reproduces IMDN/CARN-M Set14 tables",
    gray="replicate",
))
PROTOCOLS.register("rounded-y", replace(
    MATLAB,
    name="rounded-y",
    description="matlab with Y rounded to uint8 (rgb2ycbcr on uint8 images; IMDN's test_IMDN.py): about -0.09 dB at x2",
    source="Zheng222/IMDN@8f158e6a test_IMDN.py (utils.rgb2ycbcr on uint8)",
    y_rounding=True,
))
PROTOCOLS.register("vdsr", replace(
    MATLAB,
    name="vdsr",
    description="bicubic rows of VDSR/DRCN/LapSRN tables: LR kept in double, rounded Y",
    source="VDSR/DRCN/LapSRN MATLAB test scripts",
    lr_source="generated",
    lr_resize="double",
    y_rounding=True,
))
PROTOCOLS.register("tpsr", replace(
    MATLAB,
    name="tpsr",
    # v2: grey images as RGB (v1 took them as Y, 0.094 dB below TPSR's published Set14 values).
    # v3: LPIPS as the supplement states it: v0.1, VGG, on unshaved images.
    version="3",
    description=("royson/tpsr evaluate.py: float Y, shave = scale, images read as RGB (grey replicated); "
                 "LPIPS v0.1 VGG on unshaved images (TPSR supplement); NIQE/PI as PIRM-2018"),
    source="royson/tpsr@76440813 evaluate.py; TPSR supplementary material (LPIPS, NIQE, PI)",
    gray="replicate",
    lpips_net="vgg",
    lpips_shave=0,
))
PROTOCOLS.register("falsr", replace(
    MATLAB,
    name="falsr",
    description="falsr/FALSR calculate.py: SR truncated to uint8, skimage rgb2ycbcr Y rounded, shave 2",
    source="falsr/FALSR@70f48223 calculate.py",
    sr_rounding="truncate",
    y_rounding=True,
    gray="replicate",
    shave=2,
))
PROTOCOLS.register("fsrcnn", replace(
    MATLAB,
    name="fsrcnn",
    description="official FSRCNN MATLAB test code: Y only, LR_Y = imresize(double(uint8 Y(HR)), 1/s)",
    source="CUHK MMLab FSRCNN_test (test_FSRCNN.m)",
    lr_source="generated",
    lr_resize="double",
    space="y",
    y_rounding=True,
))
PROTOCOLS.register("lapsrn", replace(
    MATLAB,
    name="lapsrn",
    description=("LapSRN's evaluation (Lai et al. CVPR 2017), whose B100/Urban100 cells later papers copy: LR = "
                 "imresize of the double HR kept in double, Y models on the Y of rgb2ycbcr with bicubic chroma, SR "
                 "rounded, float Y, shave = scale, MATLAB's built-in ssim()"),
    source="phoenix104104/LapSRN@95154bba evaluate_LapSRN_dataset.m, SR_LapSRN.m, utils/evaluate_SR.m",
    lr_source="generated",
    lr_resize="double",
    ssim="matlab-ssim",
))
PROTOCOLS.register("pirm", replace(
    MATLAB,
    name="pirm",
    description="PIRM-2018 (roimehrez/PIRM2018): rounded Y of rgb2ycbcr, shave 4 px whatever the scale",
    source="roimehrez/PIRM2018@d585552a evaluate_results.m, utils/convert_shave_image.m",
    y_rounding=True,
    shave=4,
    lpips_shave=4,
))
# The NTIRE efficient-SR challenges (2022-2026) score x4 models with test_demo.py: RGB read with
# cv2 (grey images as 3 channels), SR clamped to [0, 1] and rounded to uint8 (tensor2uint), HR
# modcropped, then utils_image.calculate_psnr/calculate_ssim on RGB with border = sf = 4. The same
# functions in every year's repository. `srbench ntire-score` ranks with it (srbench/cost/ntire_score.py).
PROTOCOLS.register("ntire-esr", replace(
    MATLAB,
    name="ntire-esr",
    description=("NTIRE efficient-SR challenges 2022-2026 (test_demo.py): PSNR and SSIM on the RGB channels (uint8 "
                 "SR rounded), 4 px border, grey images as RGB; SSIM the mean of the three channels' valid maps"),
    source=("ofsoundof/NTIRE2022_ESR@e95ba4a, Amazingren/NTIRE2024_ESR@6404fa4, NTIRE2025_ESR@b69fb66, "
            "NTIRE2026_ESR@4592ce6: test_demo.py, utils/utils_image.py calculate_psnr, calculate_ssim"),
    gray="replicate",
    shave=4,
    lpips_shave=4,
    fidelity="rgb",
), aliases=("ntire",))
CANONICAL = "matlab"


def get_protocol(name: str) -> Protocol:
    return PROTOCOLS.get(name)


# Settings that are descriptions, not settings: they never change a number.
NOT_SETTINGS = ("name", "version", "description", "source")


def settings_that_differ(paper: dict, doc: dict) -> list[str] | None:
    """Settings in which the paper's protocol differs from the result's and that can change this
    row's number (grey handling only on sets with a grey image; perceptual settings only where the
    metric is compared); None when they are the same protocol."""
    name = paper.get("protocol", doc["protocol"]["name"])
    if name == doc["protocol"]["name"]:
        return None
    try:
        other = get_protocol(name).to_dict()
    except SrbenchError:
        return ["(unknown protocol)"]
    ours = doc["protocol"]
    diffs = [k for k in other if k not in NOT_SETTINGS and other[k] != ours.get(k)]
    if not any(i.get("gray") for i in doc.get("images", [])):
        diffs = [k for k in diffs if k != "gray"]
    fidelity_only = not any(k in paper for k in ("lpips", "niqe", "pi", "ma"))
    if fidelity_only:
        diffs = [k for k in diffs if not k.startswith(("lpips_", "nr_"))]
    return diffs or None
