"""TPSR (Lee et al., ECCV 2020, "Journey Towards Tiny Perceptual Super-Resolution"), ported from
royson/tpsr@76440813 (the NAS-found generator, n_feats 16).

The network works on RGB in [0, 255] (EDSR-style MeanShift with rgb_range 255); :class:`TPSRWrapper`
scales srbench's [0, 1] input up and the output back down. The three released x4 weights (NOGAN,
ESRGAN, D2) share one architecture. The x2 architecture (one upsampling stage) can be built without
weights; none were released.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from srbench.errors import SrbenchError
from srbench.models.range255 import Range255

RGB_MEAN = (0.4488, 0.4371, 0.4040)
RGB_RANGE = 255.0

# (node, operation, kernel) of each searched cell, in execution order; names give the official keys.
EARLY = (("Node_0", "Sep2d", 5), ("Node_1", "Conv2d", 7), ("Node_2", "Conv2d", 7))
MIDDLE_MAIN = (("Node_4", "Conv2d", 3), ("Node_5", "Conv2d", 5), ("Node_6", "Sep2d", 3))
MIDDLE_SIDE = (("Node_3", "Conv2d", 3), ("Node_7", "Conv2d", 5), ("Node_8", "Conv2d", 3))
SKIP = (("Node_9", "Conv2d", 7),)


class MeanShift(nn.Module):
    """Frozen 1x1 identity conv with bias -+255 * mean (keys ``weight``, ``bias``); buffers, so never
    counted as learnable."""

    # The official code's MeanShift is a frozen nn.Conv2d: counters that follow the official module
    # (the NTIRE conventions, srbench/cost/ntire.py) count this one as that Conv2d.
    official_conv2d = True

    def __init__(self, sign: float):
        super().__init__()
        self.register_buffer("weight", torch.eye(3).view(3, 3, 1, 1))
        self.register_buffer("bias", sign * RGB_RANGE * torch.tensor(RGB_MEAN))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias)


class BaseConv(nn.Module):
    """``Conv2d_KxK`` = conv + PReLU; ``Sep2d_KxK`` = depthwise KxK (no bias) + PReLU + 1x1 + PReLU.
    Each PReLU has one shared slope."""

    def __init__(self, op: str, k: int, nf: int):
        super().__init__()
        if op == "Conv2d":
            layers = [nn.Conv2d(nf, nf, k, padding=k // 2, bias=True), nn.PReLU()]
        elif op == "Sep2d":
            layers = [nn.Conv2d(nf, nf, k, padding=k // 2, groups=nf, bias=False), nn.PReLU(),
                      nn.Conv2d(nf, nf, 1, bias=True), nn.PReLU()]
        else:
            raise SrbenchError(f"TPSR: unknown operation '{op}'")
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _cells(spec, nf: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(
        (f"{node}_Operation_0_type_{op}_{k}x{k}", BaseConv(op, k, nf)) for node, op, k in spec
    ))


class _Upsample(nn.Module):
    """One x2 stage: ``extend`` conv to 12 channels, PixelShuffle(2) -> 3 channels (no activation)."""

    def __init__(self, cin: int):
        super().__init__()
        self.extend = nn.Conv2d(cin, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.extend(x))


class TPSR(nn.Module):
    """The searched generator, RGB [0, 255] in and out; ``scale`` 2 or 4 (one or two x2 stages)."""

    def __init__(self, scale: int = 4, nf: int = 16):
        super().__init__()
        if scale not in (2, 4):
            raise SrbenchError(f"TPSR is defined for x2 and x4 only, not x{scale}")
        self.sub_mean = MeanShift(-1.0)
        self.first_layer = nn.Conv2d(3, nf, 3, padding=1)
        self.early_layers = _cells(EARLY, nf)
        self.middle_main_layers = _cells(MIDDLE_MAIN, nf)
        self.middle_side_layers = _cells(MIDDLE_SIDE, nf)
        self.skip_layer = _cells(SKIP, nf)
        self.merge_op_act = nn.PReLU()
        self.up_mod = nn.Sequential(*[_Upsample(nf if i == 0 else 3) for i in range(scale // 2)])
        self.add_mean = MeanShift(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i = self.first_layer(self.sub_mean(x))
        e = self.early_layers(i)
        h = self.merge_op_act(self.skip_layer(i) + self.middle_side_layers(e) + self.middle_main_layers(e))
        return self.add_mean(self.up_mod(h))


class TPSRWrapper(Range255, TPSR):
    """srbench I/O: RGB [0, 1] in, [0, 1] units out (the network itself works in [0, 255])."""


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    from srbench.models.weights import load_official_pth

    model = TPSRWrapper(scale, **card.arch)
    # The official loader tolerated missing or extra keys; the released files match every key exactly.
    return load_official_pth(model, card, scale) if pretrained else model
