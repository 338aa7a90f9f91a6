"""Multiplications and additions counted separately, checked against the ICLR 2019 efficiency study
(shared/seeds/004, "Understanding opportunities for efficiency in single-image super resolution
networks"): Table 5's reductions in multiplications and additions of the ternary StrassenNets model
ST-bl against its baseline bl, for every scale and hidden width r.

bl and ST-bl are written here from the paper's text: bl is RCAN with 2 residual groups of 5 RCABs,
64 features (section 3.1; its parameter count is checked against Tables 1 and 4); ST-bl replaces
every 3x3 convolution by a sum-product layer: a ternary KxK conv to r maps, an element-wise product
with a learned vector, a ternary 1x1 conv back to the output channels (section 4.2).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.cost.complexity import count_params
from srbench.cost.mults_adds import count_mults_adds, count_mults_adds_at

RGB_MEAN = (0.4488, 0.4371, 0.4040)


class MeanShift(nn.Module):
    def __init__(self, sign):
        super().__init__()
        self.register_buffer("weight", torch.eye(3).view(3, 3, 1, 1))
        self.register_buffer("bias", sign * torch.tensor(RGB_MEAN))

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias)


class Ternary(nn.Conv2d):
    weights_ternary = True


class SPConv(nn.Module):
    """StrassenNets sum-product convolution: W_c((W_b x) * a), W_b and W_c ternary, r hidden maps."""

    def __init__(self, cin, cout, k, r):
        super().__init__()
        self.wb = Ternary(cin, r, k, padding=k // 2, bias=False)
        self.a = nn.Parameter(torch.randn(1, r, 1, 1))
        self.wc = Ternary(r, cout, 1, bias=False)

    def forward(self, x):
        return self.wc(self.wb(x) * self.a)


def conv_factory(width_mult):
    def conv(cin, cout, k=3):
        if width_mult is None:
            return nn.Conv2d(cin, cout, k, padding=k // 2)
        return SPConv(cin, cout, k, width_mult * cout)
    return conv


class CA(nn.Module):
    def __init__(self, c=64, reduction=16):
        super().__init__()
        self.du = nn.Sequential(nn.Conv2d(c, c // reduction, 1), nn.ReLU(), nn.Conv2d(c // reduction, c, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.du(x.mean(dim=(2, 3), keepdim=True))


class RCAB(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.body = nn.Sequential(conv(64, 64), nn.ReLU(), conv(64, 64), CA())

    def forward(self, x):
        return self.body(x) + x


class RG(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(conv) for _ in range(5)], conv(64, 64))

    def forward(self, x):
        return self.body(x) + x


class BL(nn.Module):
    """The study's baseline 'bl': RCAN, 2 RGs x 5 RCABs, 64 features, sub-pixel upsampler."""

    def __init__(self, scale, width_mult=None):
        super().__init__()
        conv = conv_factory(width_mult)
        self.sub_mean, self.add_mean = MeanShift(-1), MeanShift(1)
        self.head = conv(3, 64)
        self.body = nn.Sequential(RG(conv), RG(conv), conv(64, 64))
        ups = [conv(64, 64 * 9), nn.PixelShuffle(3)] if scale == 3 else \
            [m for _ in range({2: 1, 4: 2}[scale]) for m in (conv(64, 256), nn.PixelShuffle(2))]
        self.tail = nn.Sequential(*ups, conv(64, 3))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(self.body(x) + x))


# Table 5 (scale: reduction in Mult (%), reduction in Add (%)) for r = c_out, 2 c_out, 4 c_out, 6 c_out.
TABLE5 = {
    2: ([99.82, 99.64, 99.28, 98.92], [-15.96, -132.1, -364.38, -596.65]),
    3: ([99.81, 99.64, 99.28, 98.92], [-35.58, -171.33, -442.83, -714.33]),
    4: ([99.81, 99.64, 99.28, 98.93], [-26.04, -152.24, -404.65, -657.06]),
}
# Params (K) of bl: Table 1 (x2) and Table 4 (x3, x4; Table 4's x2 entry, 961, contradicts Table 1).
BL_PARAMS_K = {2: 1006, 3: 1191, 4: 1154}


def _hr720(scale):
    return Fraction(720, scale), Fraction(1280, scale)  # "All Mult-Adds are calculated by upscaling to a 720p image"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bl_is_the_studys_baseline(scale):
    assert round(count_params(BL(scale)) / 1000) == BL_PARAMS_K[scale]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_table5_reductions_in_mults_and_adds(scale):
    base = count_mults_adds(BL(scale), *_hr720(scale), probe=4)  # probes 4|8 px: exact, and cheap
    mult_red, add_red = [], []
    for m in (1, 2, 4, 6):
        st = count_mults_adds(BL(scale, width_mult=m), *_hr720(scale), probe=4)
        mult_red.append(round(100 * (1 - st["mults"] / base["mults"]), 2))
        add_red.append(round(100 * (1 - st["adds"] / base["adds"]), 2))
    assert (mult_red, add_red) == TABLE5[scale]
    assert base["unsplit_ops"] == []


def test_single_conv_rules():
    conv = nn.Conv2d(8, 4, 3, padding=1, groups=2)
    k, n = 4 * 9, 4 * 5 * 6  # Cin/groups * k * k inputs per output element; output elements
    assert count_mults_adds_at(conv, 5, 6, channels=8)[:2] == (k * n, (k - 1) * n + n)
    tern = Ternary(8, 4, 3, padding=1, bias=False)
    assert count_mults_adds_at(tern, 5, 6, channels=8)[:2] == (0, (8 * 9 - 1) * n)
    # an activation product (x * sigmoid(x)) is not a multiplication by a weight; a learned scale is

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1, 8, 1, 1))

        def forward(self, x):
            return x * torch.sigmoid(x) + x * self.scale

    assert count_mults_adds_at(Mixed(), 5, 6, channels=8)[:2] == (8 * 30, 0)
    lin = nn.Linear(10, 3)
    assert count_mults_adds_at(nn.Sequential(nn.Flatten(), lin), 1, 10, channels=1)[:2] == (30, 9 * 3 + 3)


def test_profile_mults_adds_on_zoo_models():
    from srbench.cost.complexity import profile
    from srbench.models.registry import get_card

    # FSRCNN: every conv has a bias and there is no fixed conv, so mults = adds = srbench's Mult-Adds.
    doc = profile(get_card("fsrcnn"), 3, "hr720", mults_adds=True)
    assert doc["mults"] == doc["adds"] == doc["macs"]
    # TPSR: the two fixed MeanShift 1x1 convs (3x3 weights) are multiplications too, on the LR input
    # (320x180) and on the HR output (1280x720).
    doc = profile(get_card("tpsr-nogan"), 4, "hr720", mults_adds=True)
    assert doc["mults"] - doc["macs"] == 9 * (320 * 180 + 1280 * 720)
    assert doc["weight_bytes"] == {"fp32": 4 * 61_097, "fp16": 2 * 61_097, "int8": 61_097}
