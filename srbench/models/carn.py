"""CARN-M (Ahn et al., ECCV 2018), ported from nmhkahn/CARN-pytorch@40d3514 ``carn/model/carn_m.py``
and ``carn/model/ops.py``.

One multi-scale network (``forward(x, scale)``) with x2, x3 and x4 upsamplers sharing one body; the
released ``carn_m.pth`` holds all three, so the module built for any scale carries all of them (a
strict load needs every key) and :class:`CARNMAtScale` picks one. Parameter count: 414,787 learnable
with all three upsamplers (the number srbench reports, the checkpoint's content); the network that
runs at one scale uses 257,027 (x2), 303,427 (x3) or 294,147 (x4). Input and output are RGB in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srbench.errors import SrbenchError

RGB_MEAN = (0.4488, 0.4371, 0.4040)


class MeanShift(nn.Module):
    """Frozen 1x1 identity conv with bias -+mean; buffers, so never counted as learnable."""

    def __init__(self, mean_rgb, sub: bool):
        super().__init__()
        sign = -1.0 if sub else 1.0
        self.shifter = _FixedConv1x1(torch.eye(3).view(3, 3, 1, 1), sign * torch.tensor(mean_rgb))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shifter(x)


class _FixedConv1x1(nn.Module):
    # The official MeanShift's shifter is a frozen nn.Conv2d: counters that follow the official module
    # (the NTIRE conventions, srbench/cost/ntire.py) count this one as that Conv2d.
    official_conv2d = True

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.register_buffer("weight", weight.float())
        self.register_buffer("bias", bias.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, pad: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class EResidualBlock(nn.Module):
    """Efficient residual block: grouped 3x3, ReLU, grouped 3x3, ReLU, 1x1; ReLU(out + x)."""

    def __init__(self, cin: int, cout: int, group: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, 1, 1, groups=group),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, groups=group),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 1, 1, 0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class _UpsampleBlock(nn.Module):
    def __init__(self, n: int, scale: int, group: int = 1):
        super().__init__()
        modules: list[nn.Module] = []
        if scale in (2, 4, 8):
            for _ in range(int(math.log2(scale))):
                modules += [nn.Conv2d(n, 4 * n, 3, 1, 1, groups=group), nn.ReLU(inplace=True), nn.PixelShuffle(2)]
        elif scale == 3:
            modules += [nn.Conv2d(n, 9 * n, 3, 1, 1, groups=group), nn.ReLU(inplace=True), nn.PixelShuffle(3)]
        else:
            raise SrbenchError(f"CARN has no x{scale} upsampler")
        self.body = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UpsampleBlock(nn.Module):
    """Multi-scale: ``up2``, ``up3``, ``up4``, selected at run time by ``scale``."""

    def __init__(self, n: int, group: int = 1):
        super().__init__()
        self.up2 = _UpsampleBlock(n, 2, group)
        self.up3 = _UpsampleBlock(n, 3, group)
        self.up4 = _UpsampleBlock(n, 4, group)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale not in (2, 3, 4):
            raise SrbenchError(f"CARN-M has upsamplers for x2, x3, x4 only, not x{scale}")
        return getattr(self, f"up{scale}")(x)


class Block(nn.Module):
    """Cascading block: one EResidualBlock ``b1`` applied three times (shared weights)."""

    def __init__(self, nf: int = 64, group: int = 1):
        super().__init__()
        self.b1 = EResidualBlock(nf, nf, group=group)
        self.c1 = BasicBlock(nf * 2, nf, 1, 1, 0)
        self.c2 = BasicBlock(nf * 3, nf, 1, 1, 0)
        self.c3 = BasicBlock(nf * 4, nf, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = torch.cat([x, self.b1(x)], dim=1)
        o1 = self.c1(c1)
        c2 = torch.cat([c1, self.b1(o1)], dim=1)
        o2 = self.c2(c2)
        c3 = torch.cat([c2, self.b1(o2)], dim=1)
        return self.c3(c3)


class CARNM(nn.Module):
    """The official multi-scale ``Net`` (group 4): ``forward(x, scale)``."""

    def __init__(self, nf: int = 64, group: int = 4):
        super().__init__()
        self.sub_mean = MeanShift(RGB_MEAN, sub=True)
        self.add_mean = MeanShift(RGB_MEAN, sub=False)
        self.entry = nn.Conv2d(3, nf, 3, 1, 1)
        self.b1 = Block(nf, group)
        self.b2 = Block(nf, group)
        self.b3 = Block(nf, group)
        self.c1 = BasicBlock(nf * 2, nf, 1, 1, 0)
        self.c2 = BasicBlock(nf * 3, nf, 1, 1, 0)
        self.c3 = BasicBlock(nf * 4, nf, 1, 1, 0)
        self.upsample = UpsampleBlock(nf, group)
        self.exit = nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        x = self.entry(self.sub_mean(x))
        c1 = torch.cat([x, self.b1(x)], dim=1)
        o1 = self.c1(c1)
        c2 = torch.cat([c1, self.b2(o1)], dim=1)
        o2 = self.c2(c2)
        c3 = torch.cat([c2, self.b3(o2)], dim=1)
        o3 = self.c3(c3)
        return self.add_mean(self.exit(self.upsample(o3, scale)))


class CARNMAtScale(CARNM):
    """The multi-scale net fixed to one scale: ``forward(x)`` like every srbench model. A subclass,
    so the state_dict keys are the official ones (all three upsamplers included)."""

    def __init__(self, scale: int, nf: int = 64, group: int = 4):
        if scale not in (2, 3, 4):
            raise SrbenchError(f"CARN-M has upsamplers for x2, x3, x4 only, not x{scale}")
        super().__init__(nf, group)
        self.scale = scale

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        return super().forward(x, self.scale if scale is None else scale)


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    from srbench.models.weights import load_official_pth

    model = CARNMAtScale(scale, **card.arch)
    return load_official_pth(model, card, scale) if pretrained else model
