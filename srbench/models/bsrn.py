"""BSRN-S (Li et al., "Blueprint Separable Residual Network for Efficient Image Super-Resolution",
CVPRW 2022), team XPixel's NTIRE 2022 Efficient SR model-complexity winner, ported from
ofsoundof/NTIRE2022_ESR@e95ba4a ``models/team18_bsrn.py`` (``BSRN(num_in_ch=3, num_feat=48,
num_block=5, num_out_ch=3, upscale=4, conv='BSConvU', upsampler='pixelshuffledirect')``).

This is the challenge model (48 channels, 5 blocks, 156,288 parameters), smaller than the BSRN of
the paper's benchmark tables. Its blocks are RFDN-style with blueprint separable convs (BSConvU:
pointwise then depthwise 3x3), GELU, an ESA of BSConvUs and a learnable channel weight ``cw``.
Pointwise layers are ``nn.Linear`` on channels-last tensors, as in the official code (same keys,
same arithmetic). The input image is repeated 4 times along channels before the first conv. RGB in
[0, 1] in and out (test_demo.py data_range 1.0); the checkpoint's state_dict is under ``params``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srbench.errors import SrbenchError


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


def _channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


class BSConvU(nn.Module):
    """Blueprint separable conv (unconstrained): pointwise ``pw`` (Linear, with bias) then depthwise
    ``dw`` (k x k, groups = out channels, with bias)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, padding: int = 1):
        super().__init__()
        self.pw = nn.Linear(cin, cout)
        self.dw = nn.Conv2d(cout, cout, kernel_size, padding=padding, groups=cout, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dw(_channels_first(self.pw(_channels_last(x))))


class ESA(nn.Module):
    """RFDN's ESA with BSConvU 3x3s, GELU instead of ReLU and Linear 1x1s, ``num_feat // 4`` wide."""

    def __init__(self, num_feat: int):
        super().__init__()
        f = num_feat // 4
        self.conv1 = nn.Linear(num_feat, f)
        self.conv_f = nn.Linear(f, f)
        self.conv_max = BSConvU(f, f)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = BSConvU(f, f)
        self.conv3_ = BSConvU(f, f)
        self.conv4 = nn.Linear(f, num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(_channels_last(x))
        c1 = self.conv2(_channels_first(c1_))
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        v_range = F.gelu(self.conv_max(v_max))
        c3 = F.gelu(self.conv3(v_range))
        c3 = self.conv3_(c3)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        c4 = self.conv4(_channels_last(c3) + self.conv_f(c1_))
        return x * torch.sigmoid(_channels_first(c4))


class RFDB(nn.Module):
    """The block (``RFDB`` as in team18_bsrn.py): three (Linear distil | BSConvU + identity)
    stages and a last BSConvU, GELU after each, Linear fusion, ESA, channel weight ``cw``, Linear
    ``conv_out``, block residual."""

    def __init__(self, channels: int):
        super().__init__()
        dc = channels // 2
        self.c1_d = nn.Linear(channels, dc)
        self.c1_r = BSConvU(channels, channels)
        self.c2_d = nn.Linear(channels, dc)
        self.c2_r = BSConvU(channels, channels)
        self.c3_d = nn.Linear(channels, dc)
        self.c3_r = BSConvU(channels, channels)
        self.c4 = BSConvU(channels, dc)
        self.c5 = nn.Linear(dc * 4, channels)
        self.esa = ESA(channels)
        self.cw = nn.Parameter(torch.ones(1, channels))  # trained values come with the checkpoint
        self.conv_out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = F.gelu(self.c1_d(_channels_last(x)))
        r1 = F.gelu(self.c1_r(x) + x)
        d2 = F.gelu(self.c2_d(_channels_last(r1)))
        r2 = F.gelu(self.c2_r(r1) + r1)
        d3 = F.gelu(self.c3_d(_channels_last(r2)))
        r3 = F.gelu(self.c3_r(r2) + r2)
        r4 = F.gelu(self.c4(r3))
        out = _channels_first(self.c5(torch.cat([d1, d2, d3, _channels_last(r4)], dim=3)))
        out = self.conv_out(_channels_last(self.esa(out)) * self.cw)
        return _channels_first(out) + x


class _PixelShuffleDirect(nn.Module):
    """Official ``PixelShuffleDirect``: one 3x3 conv + PixelShuffle (keys ``upsampleOneStep.0``)."""

    def __init__(self, scale: int, num_feat: int, num_out_ch: int):
        super().__init__()
        self.upsampleOneStep = nn.Sequential(nn.Conv2d(num_feat, scale**2 * num_out_ch, 3, 1, 1),
                                             nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsampleOneStep(x)


class BSRN(nn.Module):
    """fea_conv (BSConvU on the input repeated 4x) -> B1..B{num_block} -> Linear fusion ``c1`` of all
    block outputs + GELU -> BSConvU ``c2`` (+ fea) -> PixelShuffleDirect. RGB [0, 1] in and out."""

    def __init__(self, num_in_ch: int = 3, num_feat: int = 48, num_block: int = 5, num_out_ch: int = 3,
                 upscale: int = 4, conv: str = "BSConvU", upsampler: str = "pixelshuffledirect"):
        super().__init__()
        if conv != "BSConvU" or upsampler != "pixelshuffledirect":
            raise SrbenchError(f"BSRN: only conv='BSConvU', upsampler='pixelshuffledirect' are ported "
                               f"(the released challenge model), not conv='{conv}', upsampler='{upsampler}'")
        self.num_block = num_block
        self.fea_conv = BSConvU(num_in_ch * 4, num_feat)
        for i in range(1, num_block + 1):
            setattr(self, f"B{i}", RFDB(num_feat))
        self.c1 = nn.Linear(num_feat * num_block, num_feat)
        self.c2 = BSConvU(num_feat, num_feat)
        self.upsampler = _PixelShuffleDirect(upscale, num_feat, num_out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(torch.cat([x, x, x, x], dim=1))
        outs = []
        out = fea
        for i in range(1, self.num_block + 1):
            out = getattr(self, f"B{i}")(out)
            outs.append(out)
        trunk = self.c1(_channels_last(torch.cat(outs, dim=1)))
        out = self.c2(F.gelu(_channels_first(trunk))) + fea
        return self.upsampler(out)


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    from srbench.models.weights import (
        load_state_dict_strict,
        load_torch_checkpoint,
        resolve_weights,
    )

    model = BSRN(upscale=scale, **card.arch)
    if pretrained:
        path, asset = resolve_weights(card, scale)
        state = load_torch_checkpoint(path, asset.name)
        if set(state) != {"params"}:
            raise SrbenchError(f"{asset.name}: {path} should hold one state_dict under 'params' (BasicSR layout), "
                               f"found keys {', '.join(sorted(state)[:4])}; is this the right file?")
        load_state_dict_strict(model, state["params"], asset.name)
    return model
