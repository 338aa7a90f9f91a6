"""IMDN family (Hui et al., ACM MM 2019), ported from Zheng222/IMDN@8f158e6 ``model/block.py`` and
``model/architecture.py``: IMDN (x2/x3/x4), IMDN_AS (RealSR, output the input's size) and IMDN_RTC.

Module and parameter names follow the official code so that the official state_dicts load with
``strict=True`` after stripping the ``module.`` prefix. The architecture is parameterised (block
width ``nf``, number of blocks ``num_modules``, ``distillation_rate``, ``stages`` = progressive
refinement steps per block, ``kernel_size`` of the refinement convolutions, ``last_stage``,
``upscale``) so that IMDN-based NAS variants can be built; the defaults are the released models.
Input and output are RGB in [0, 1]; there is no mean shift.

The NAS master thesis over this search space (Imamoglu, ETH 2021; ``shared/seeds/002``) generalises
the block differently from the official code: every one of its ``stages`` 3x3 convolutions outputs
``nf`` channels and is split into distilled and coarse channels, the last one included (its coarse
part is dropped), so only ``distilled * stages`` channels reach the fusion. That is
``last_stage="split"``; the official block (``"narrow"``) ends in a convolution that outputs the
distilled channels only. Its parameter counts (Table 4.3) are reproduced exactly with "split":
rate 0.125 / 4 stages -> 908,028; 4 stages / 0.25 -> 839,880; 3 stages -> 637,848 with 21 = int(64/3)
distilled channels, i.e. the table's rate "0.3" is 1/3 to one digit (0.3 itself gives 19 channels and
649,116). The depth variants (931,408 and 1,147,640 for 8 and 10 blocks) are the official block.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from srbench.errors import SrbenchError

LRELU_SLOPE = 0.05


def conv_layer(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, padding=(k - 1) // 2, bias=True)


def stdv_channels(x: torch.Tensor) -> torch.Tensor:
    # Population standard deviation over H, W per channel, as the official ``stdv_channels``.
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).pow(0.5)


class CCALayer(nn.Module):
    """Contrast-aware channel attention: sigmoid(MLP(std + mean)) times the input."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise SrbenchError(f"IMDN: CCA on {channels} channels with reduction {reduction} has no hidden channel")
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, padding=0, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, padding=0, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = stdv_channels(x) + x.mean(dim=(2, 3), keepdim=True)
        return x * self.conv_du(y)


LAST_STAGES = ("narrow", "split")


class IMDModule(nn.Module):
    """Information multi-distillation block.

    ``stages`` convolutions ``c1..c{stages}`` (``kernel_size``, 3 in the official block): each of the
    first ``stages - 1`` (+ LeakyReLU) splits off ``distilled = int(nf * distillation_rate)`` channels
    and passes the rest on. The last one (linear) outputs ``distilled`` channels
    (``last_stage="narrow"``, the official block) or ``nf`` channels split like the others, the coarse
    part dropped (``"split"``, the NAS thesis's block). The concatenation (``distilled * stages``
    channels) goes through CCA (``attention=True``; IMDModule_speed has none) and the 1x1 fusion
    ``c{stages+1}``, plus the block input. The official block is ``stages=4`` (fusion ``c5``).
    """

    def __init__(self, nf: int = 64, distillation_rate: float = 0.25, stages: int = 4,
                 attention: bool = True, reduction: int = 16, kernel_size: int = 3, last_stage: str = "narrow"):
        super().__init__()
        if stages < 2:
            raise SrbenchError(f"IMDN: a block needs at least 2 stages, got {stages}")
        if last_stage not in LAST_STAGES:
            raise SrbenchError(f"IMDN: last_stage must be one of {', '.join(LAST_STAGES)}, got '{last_stage}'")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise SrbenchError(f"IMDN: kernel_size must be odd and positive, got {kernel_size}")
        self.distilled = int(nf * distillation_rate)
        self.remaining = nf - self.distilled
        if self.distilled < 1 or self.remaining < 1:
            raise SrbenchError(f"IMDN: distillation rate {distillation_rate} of {nf} channels leaves an empty split")
        self.stages = stages
        self.last_stage = last_stage
        self.act = nn.LeakyReLU(LRELU_SLOPE, inplace=True)
        for i in range(1, stages + 1):
            cin = nf if i == 1 else self.remaining
            cout = self.distilled if i == stages and last_stage == "narrow" else nf
            setattr(self, f"c{i}", conv_layer(cin, cout, kernel_size))
        setattr(self, f"c{stages + 1}", conv_layer(self.distilled * stages, nf, 1))
        self.cca = CCALayer(self.distilled * stages, reduction) if attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distilled = []
        rest = x
        for i in range(1, self.stages):
            out = self.act(getattr(self, f"c{i}")(rest))
            d, rest = torch.split(out, (self.distilled, self.remaining), dim=1)
            distilled.append(d)
        last = getattr(self, f"c{self.stages}")(rest)
        distilled.append(last if self.last_stage == "narrow" else last[:, : self.distilled])
        out = torch.cat(distilled, dim=1)
        if self.cca is not None:
            out = self.cca(out)
        return getattr(self, f"c{self.stages + 1}")(out) + x


class IMDN(nn.Module):
    """IMDN: fea_conv -> IMDB1..IMDB{num_modules} -> 1x1 fusion (c) -> LR_conv (+ fea) -> PixelShuffle.

    Defaults give the released IMDN (nf 64, 6 blocks, rate 0.25, 4 stages, 3x3, narrow last stage);
    ``upscale`` 2/3/4. ``kernel_size`` and ``last_stage`` apply to the blocks' refinement convolutions.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, num_modules: int = 6,
                 distillation_rate: float = 0.25, stages: int = 4, upscale: int = 4,
                 attention: bool = True, reduction: int = 16, kernel_size: int = 3, last_stage: str = "narrow"):
        super().__init__()
        self.num_modules = num_modules
        self.fea_conv = self._head(in_nc, nf)
        for i in range(1, num_modules + 1):
            setattr(self, f"IMDB{i}", IMDModule(nf, distillation_rate, stages, attention, reduction, kernel_size, last_stage))
        self.c = nn.Sequential(conv_layer(nf * num_modules, nf, 1), nn.LeakyReLU(LRELU_SLOPE, inplace=True))
        self.LR_conv = conv_layer(nf, nf, 3)
        self.upsampler = nn.Sequential(conv_layer(nf, out_nc * upscale**2, 3), nn.PixelShuffle(upscale))

    def _head(self, in_nc: int, nf: int) -> nn.Module:
        return conv_layer(in_nc, nf, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(x)
        outs = []
        out = fea
        for i in range(1, self.num_modules + 1):
            out = getattr(self, f"IMDB{i}")(out)
            outs.append(out)
        out = self.LR_conv(self.c(torch.cat(outs, dim=1))) + fea
        return self.upsampler(out)


class IMDN_AS(IMDN):
    """IMDN for real-world SR (AIM 2019): two stride-2 convs shrink the input 4x, PixelShuffle(4)
    restores it, so the output has the input's size. H and W must be multiples of 4."""

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, num_modules: int = 6,
                 distillation_rate: float = 0.25, stages: int = 4, attention: bool = True, reduction: int = 16,
                 kernel_size: int = 3, last_stage: str = "narrow"):
        super().__init__(in_nc, out_nc, nf, num_modules, distillation_rate, stages, 4, attention, reduction,
                         kernel_size, last_stage)

    def _head(self, in_nc: int, nf: int) -> nn.Module:
        return nn.Sequential(
            conv_layer(in_nc, nf, 3, stride=2), nn.LeakyReLU(LRELU_SLOPE, inplace=True), conv_layer(nf, nf, 3, stride=2)
        )

    @staticmethod
    def check_input(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % 4 or w % 4:
            # The official test script then runs 4 overlapping tiles instead; srbench asks for a crop.
            raise SrbenchError(f"IMDN-AS needs an input whose height and width are multiples of 4, got {w}x{h}")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.check_input(x))


class Shortcut(nn.Module):
    """The official ``ShortcutBlock`` (IMDN, KAIR): x + sub(x), key prefix ``sub``."""

    def __init__(self, sub: nn.Module):
        super().__init__()
        self.sub = sub

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sub(x)


class IMDN_RTC(nn.Module):
    """IMDN_RTC (AI in RTC 2019 challenge): nf 12, 5 IMDModule_speed (no CCA), 1x1 LR_conv inside a
    global shortcut, PixelShuffle upsampler. Keys ``model.0``, ``model.1.sub.{0..5}``, ``model.2``."""

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 12, num_modules: int = 5,
                 distillation_rate: float = 0.25, stages: int = 4, upscale: int = 2,
                 kernel_size: int = 3, last_stage: str = "narrow"):
        super().__init__()
        blocks = [IMDModule(nf, distillation_rate, stages, attention=False, kernel_size=kernel_size, last_stage=last_stage)
                  for _ in range(num_modules)]
        self.model = nn.Sequential(
            conv_layer(in_nc, nf, 3),
            Shortcut(nn.Sequential(*blocks, conv_layer(nf, nf, 1))),
            conv_layer(nf, out_nc * upscale**2, 3),
            nn.PixelShuffle(upscale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


VARIANTS = {"imdn": IMDN, "imdn_as": IMDN_AS, "imdn_rtc": IMDN_RTC}


def _variant(card) -> str:
    variant = card.arch.get("variant", "imdn")
    if variant not in VARIANTS:
        raise SrbenchError(f"{card.name}: unknown IMDN variant '{variant}' (known: {', '.join(VARIANTS)})")
    return variant


def arch_parameters(card) -> tuple[str, ...]:
    """The ``arch`` keys the card's variant accepts (``upscale`` comes from the scale)."""
    cls = VARIANTS[_variant(card)]
    return ("variant",) + tuple(p for p in inspect.signature(cls).parameters if p != "upscale")


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    """The card's ``arch.variant`` (imdn | imdn_as | imdn_rtc) with ``arch`` keyword overrides."""
    from srbench.models.weights import load_official_pth

    variant = _variant(card)
    unknown = sorted(set(card.arch) - set(arch_parameters(card)))
    if unknown:
        raise SrbenchError(f"{card.name}: unknown architecture parameter(s) {', '.join(unknown)} for {variant} "
                           f"(known: {', '.join(arch_parameters(card))})")
    arch = dict(card.arch)
    arch.pop("variant", None)
    if variant != "imdn_as":  # IMDN-AS has a fixed internal 4x; its output has the input's size
        arch["upscale"] = scale
    model = VARIANTS[variant](**arch)
    return load_official_pth(model, card, scale) if pretrained else model
