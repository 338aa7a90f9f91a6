"""Evaluation protocols as versioned data (SPEC §1).

``matlab`` is the canonical protocol of srbench's leaderboards; the others recreate one paper's own
evaluation script exactly. Every setting is written into each result, and results of different
protocols (or versions) never share a table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .registry import Registry


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    description: str
    source: str
    # LR: use the dataset's shipped MATLAB-bicubic LR when present, else generate from modcropped HR.
    lr_source: str  # "dataset-or-generated" | "generated"
    # "uint8": MATLAB imresize on uint8 HR (rounded between passes) -> uint8 LR, as stored in LR PNGs
    # "double": imresize(im2double(HR)) kept in float (never written as uint8)
    # "y-double": only Y exists: LR_Y = imresize(double(round(Y(HR))), 1/s)
    lr_resize: str
    pipeline: str  # "rgb" (models see RGB LR) | "y" (everything on Y; RGB models cannot run)
    sr_rounding: str  # "round" | "truncate": float SR -> uint8 after clamping to [0, 255]
    luma: str  # how Y is computed for PSNR/SSIM
    y_rounding: bool  # round Y to uint8 (MATLAB rgb2ycbcr on uint8) or keep float
    gray: str  # "as-y": a single-channel image is its own Y | "replicate": treat as RGB (R = G = B)
    shave: str  # "scale" or an integer number of pixels, for PSNR and SSIM
    ssim: str = "wang2004: gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, L 255, valid, no downsampling"
    psnr_mean: str = "mean of per-image PSNR"
    resize_kernel: str = "matlab-imresize-bicubic (a=-0.5, antialias, symmetric padding, float64)"
    lpips_shave: str = "scale"  # LPIPS on RGB uint8 SR vs HR with this border removed
    nr_luma: str = "y-bt601-matlab-rounded"  # NIQE / Ma input (PIRM-2018: Y of rgb2ycbcr as uint8)
    nr_shave: int = 4  # PIRM-2018 shaves 4 px whatever the scale

    def shave_for(self, scale: int) -> int:
        return scale if self.shave == "scale" else int(self.shave)

    def lpips_shave_for(self, scale: int) -> int:
        return scale if self.lpips_shave == "scale" else int(self.lpips_shave)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict:
        return asdict(self)


BT601 = "bt601-matlab: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, R,G,B in [0,255]"

PROTOCOLS: Registry[Protocol] = Registry("protocol")

MATLAB = Protocol(
    name="matlab",
    version="1",
    description="canonical: RCAN Evaluate_PSNR_SSIM.m lineage (IMDN, CARN, RCAN, most tables)",
    source="yulunzhang/RCAN Evaluate_PSNR_SSIM.m",
    lr_source="dataset-or-generated",
    lr_resize="uint8",
    pipeline="rgb",
    sr_rounding="round",
    luma=BT601,
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
    # v2: grey images as RGB. v1 took them as Y, which is 0.094 dB below TPSR's published Set14
    # values; as RGB they reproduce (27.9507 vs 27.95, TPSR-NOGAN). Set5 values are unchanged.
    version="2",
    description="royson/tpsr evaluate.py: float Y, shave = scale, images read as RGB (grey replicated)",
    source="royson/tpsr@76440813 evaluate.py",
    gray="replicate",
))
PROTOCOLS.register("falsr", replace(
    MATLAB,
    name="falsr",
    description="falsr/FALSR calculate.py: SR truncated to uint8, skimage rgb2ycbcr Y rounded, shave 2",
    source="falsr/FALSR@70f48223 calculate.py",
    sr_rounding="truncate",
    luma=BT601 + " (skimage rgb2ycbcr)",
    y_rounding=True,
    gray="replicate",
    shave="2",
))
PROTOCOLS.register(
    "fsrcnn",
    Protocol(
        name="fsrcnn",
        version="1",
        description="official FSRCNN MATLAB test code: Y only, LR_Y = imresize(double(uint8 Y(HR)), 1/s)",
        source="CUHK MMLab FSRCNN_test (test_FSRCNN.m)",
        lr_source="generated",
        lr_resize="y-double",
        pipeline="y",
        sr_rounding="round",
        luma=BT601,
        y_rounding=True,
        gray="as-y",
        shave="scale",
    ),
)
PROTOCOLS.register("pirm", replace(
    MATLAB,
    name="pirm",
    description="PIRM-2018 (roimehrez/PIRM2018): rounded Y of rgb2ycbcr, shave 4 px whatever the scale",
    source="roimehrez/PIRM2018@d585552a evaluate_results.m, utils/convert_shave_image.m",
    y_rounding=True,
    shave="4",
    lpips_shave="4",
))
CANONICAL = "matlab"


def get_protocol(name: str) -> Protocol:
    return PROTOCOLS.get(name)
