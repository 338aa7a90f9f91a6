"""RFDN (Liu et al., "Residual Feature Distillation Network for Lightweight Image Super-Resolution",
ECCVW 2020), the AIM 2020 Efficient SR winner as released in the NTIRE 2022 challenge repository:
ported from ofsoundof/NTIRE2022_ESR@e95ba4a ``models/rfdn_baseline/RFDN.py`` and ``block.py``
(default constructor ``RFDN()``: 50 channels, 4 RFDBs, x4).

Module and parameter names follow the official code, so the checkpoint loads with ``strict=True``
as it is. The network works on RGB in [0, 255] (test_demo.py data_range 255; no mean shift);
:class:`RFDNWrapper` scales srbench's [0, 1] input up and the output back down. The ESA's stride-2
conv + 7x7 max-pool need inputs (and tiles) of at least 15 x 15 px; smaller ones fail in torch's
max_pool2d, as in the official code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srbench.models.range255 import Range255

LRELU_SLOPE = 0.05


def conv_layer(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=(k - 1) // 2, bias=True)


class ESA(nn.Module):
    """Enhanced spatial attention: 1x1 reduce to n_feats // 4, stride-2 conv, 7x7/3 max-pool, three
    3x3 convs, bilinear back to the input size, plus a 1x1 skip, 1x1 expand, sigmoid gate."""

    def __init__(self, n_feats: int):
        super().__init__()
        f = n_feats // 4
        self.conv1 = nn.Conv2d(n_feats, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv_max = nn.Conv2d(f, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv3_ = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, n_feats, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        v_range = F.relu(self.conv_max(v_max))
        c3 = F.relu(self.conv3(v_range))
        c3 = self.conv3_(c3)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        m = torch.sigmoid(self.conv4(c3 + self.conv_f(c1_)))
        return x * m


class RFDB(nn.Module):
    """Residual feature distillation block: three (1x1 distil | 3x3 + identity) stages, a last 3x3,
    LeakyReLU(0.05) after each, concat of the four distilled halves, 1x1 fusion, ESA. No block residual."""

    def __init__(self, channels: int):
        super().__init__()
        dc = channels // 2
        self.c1_d = conv_layer(channels, dc, 1)
        self.c1_r = conv_layer(channels, channels, 3)
        self.c2_d = conv_layer(channels, dc, 1)
        self.c2_r = conv_layer(channels, channels, 3)
        self.c3_d = conv_layer(channels, dc, 1)
        self.c3_r = conv_layer(channels, channels, 3)
        self.c4 = conv_layer(channels, dc, 3)
        self.act = nn.LeakyReLU(LRELU_SLOPE)
        self.c5 = conv_layer(dc * 4, channels, 1)
        self.esa = ESA(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.act(self.c1_d(x))
        r1 = self.act(self.c1_r(x) + x)
        d2 = self.act(self.c2_d(r1))
        r2 = self.act(self.c2_r(r1) + r1)
        d3 = self.act(self.c3_d(r2))
        r3 = self.act(self.c3_r(r2) + r2)
        r4 = self.act(self.c4(r3))
        return self.esa(self.c5(torch.cat([d1, d2, d3, r4], dim=1)))


class RFDN(nn.Module):
    """fea_conv -> B1..B{num_modules} -> 1x1 fusion of all block outputs (``c``, + LeakyReLU) ->
    LR_conv (+ fea) -> conv + PixelShuffle. RGB [0, 255] in and out."""

    def __init__(self, in_nc: int = 3, nf: int = 50, num_modules: int = 4, out_nc: int = 3, upscale: int = 4):
        super().__init__()
        self.num_modules = num_modules
        self.fea_conv = conv_layer(in_nc, nf, 3)
        for i in range(1, num_modules + 1):
            setattr(self, f"B{i}", RFDB(nf))
        self.c = nn.Sequential(conv_layer(nf * num_modules, nf, 1), nn.LeakyReLU(LRELU_SLOPE))
        self.LR_conv = conv_layer(nf, nf, 3)
        self.upsampler = nn.Sequential(conv_layer(nf, out_nc * upscale**2, 3), nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(x)
        outs = []
        out = fea
        for i in range(1, self.num_modules + 1):
            out = getattr(self, f"B{i}")(out)
            outs.append(out)
        out = self.LR_conv(self.c(torch.cat(outs, dim=1))) + fea
        return self.upsampler(out)


class RFDNWrapper(Range255, RFDN):
    """srbench I/O: RGB [0, 1] in, [0, 1] units out (the network works in [0, 255])."""


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    from srbench.models.weights import load_official_pth

    model = RFDNWrapper(upscale=scale, **card.arch)
    return load_official_pth(model, card, scale) if pretrained else model
