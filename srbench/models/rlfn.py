"""RLFN (Kong et al., "Residual Local Feature Network for Efficient Super-Resolution", CVPRW 2022),
team ByteESR's NTIRE 2022 Efficient SR runtime-track winner, ported from
ofsoundof/NTIRE2022_ESR@e95ba4a ``models/team04_rlfn.py`` (``RLFN_cut(in_nc=3, out_nc=3)``: 46
channels, 48 in the middle of each block, 4 blocks, x4).

``RLFN_cut`` is the challenge submission: its ESA has a 16-channel trunk and keeps only one 3x3
conv after the pooling (the RFDN ESA's ``conv_max`` and ``conv3_`` are cut). Module and parameter
names follow the official code, so the checkpoint loads with ``strict=True`` as it is. The network
works on RGB in [0, 255] (test_demo.py data_range 255; no mean shift); :class:`RLFNWrapper` scales
srbench's [0, 1] input up and the output back down.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srbench.models.range255 import Range255
from srbench.models.rfdn import LRELU_SLOPE, conv_layer


class ESACut(nn.Module):
    """ESA with one 3x3 conv after the 7x7/3 max-pool (no ReLU), ``esa_channels`` wide."""

    def __init__(self, esa_channels: int, n_feats: int):
        super().__init__()
        f = esa_channels
        self.conv1 = nn.Conv2d(n_feats, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, n_feats, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        c3 = self.conv3(v_max)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        m = torch.sigmoid(self.conv4(c3 + self.conv_f(c1_)))
        return x * m


class RLFB(nn.Module):
    """Residual local feature block: three 3x3 convs + LeakyReLU(0.05), identity added, 1x1 conv, ESA."""

    def __init__(self, in_channels: int, mid_channels: int, esa_channels: int = 16):
        super().__init__()
        self.c1_r = conv_layer(in_channels, mid_channels, 3)
        self.c2_r = conv_layer(mid_channels, mid_channels, 3)
        self.c3_r = conv_layer(mid_channels, in_channels, 3)
        self.c5 = conv_layer(in_channels, in_channels, 1)
        self.esa = ESACut(esa_channels, in_channels)
        self.act = nn.LeakyReLU(LRELU_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.c1_r(x))
        out = self.act(self.c2_r(out))
        out = self.act(self.c3_r(out))
        return self.esa(self.c5(out + x))


class RLFN(nn.Module):
    """``RLFN_cut``: fea_conv -> B1..B{num_blocks} in sequence -> LR_conv (+ fea) -> conv + PixelShuffle.
    RGB [0, 255] in and out."""

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 46, mf: int = 48, num_blocks: int = 4,
                 upscale: int = 4):
        super().__init__()
        self.num_blocks = num_blocks
        self.fea_conv = conv_layer(in_nc, nf, 3)
        for i in range(1, num_blocks + 1):
            setattr(self, f"B{i}", RLFB(nf, mf))
        self.LR_conv = conv_layer(nf, nf, 3)
        self.upsampler = nn.Sequential(conv_layer(nf, out_nc * upscale**2, 3), nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(x)
        out = fea
        for i in range(1, self.num_blocks + 1):
            out = getattr(self, f"B{i}")(out)
        return self.upsampler(self.LR_conv(out) + fea)


class RLFNWrapper(Range255, RLFN):
    """srbench I/O: RGB [0, 1] in, [0, 1] units out (the network works in [0, 255])."""


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    from srbench.models.weights import load_official_pth

    model = RLFNWrapper(upscale=scale, **card.arch)
    return load_official_pth(model, card, scale) if pretrained else model
