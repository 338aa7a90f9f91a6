"""IMDN in the KAIR layout: the NTIRE 2022 Efficient SR challenge baseline (x4), ported from
ofsoundof/NTIRE2022_ESR@e95ba4a ``models/imdn_baseline.py`` and ``models/basicblock.py``
(``IMDN(in_nc=3, out_nc=3, nc=64, nb=8, upscale=4)``, the AIM 2019 constrained-SR winner).

This is not the ACM MM 2019 IMDN of :mod:`srbench.models.imdn`: KAIR's simplified block
(``IMDBlock``) has no contrast-aware channel attention, and the network has no concatenation of
the block outputs. Layout: head conv -> [8 blocks -> 3x3 conv] inside a global shortcut -> 3x3
conv to 48 channels -> PixelShuffle(4). The blocks are srbench's :class:`IMDModule` with
``attention=False`` (the same computation: 3 distilling 3x3 convs + LeakyReLU(0.05), a last 3x3
conv, 1x1 fusion, block residual); :func:`kair_to_srbench` renames the checkpoint's keys to it.
RGB in [0, 1] in and out (test_demo.py data_range 1.0).
"""

from __future__ import annotations

import re

import torch
from torch import nn

from srbench.models.imdn import IMDModule, Shortcut, conv_layer

# KAIR block key -> srbench IMDModule key. conv1..conv3 are nn.Sequential(conv, LeakyReLU) in KAIR
# (hence ".0"); conv4 and conv1x1 are bare convs.
KAIR_BLOCK_KEYS = {"conv1.0": "c1", "conv2.0": "c2", "conv3.0": "c3", "conv4": "c4", "conv1x1": "c5"}
_BLOCK_KEY = re.compile(r"^model\.1\.sub\.(\d+)\.(conv1\.0|conv2\.0|conv3\.0|conv4|conv1x1)\.(weight|bias)$")


class IMDNKAIR(nn.Module):
    """``model.0`` head conv, ``model.1`` = shortcut(``nb`` IMDModules + 3x3 conv), ``model.2`` conv
    to ``out_nc * upscale**2`` channels, ``model.3`` PixelShuffle. RGB [0, 1] in and out."""

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nc: int = 64, nb: int = 8, upscale: int = 4,
                 distillation_rate: float = 0.25):
        super().__init__()
        blocks = [IMDModule(nf=nc, distillation_rate=distillation_rate, stages=4, attention=False) for _ in range(nb)]
        self.model = nn.Sequential(
            conv_layer(in_nc, nc, 3),
            Shortcut(nn.Sequential(*blocks, conv_layer(nc, nc, 3))),
            conv_layer(nc, out_nc * upscale**2, 3),
            nn.PixelShuffle(upscale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def kair_to_srbench(state: dict) -> dict:
    """The checkpoint's KAIR keys (``model.1.sub.N.conv1.0.weight`` ...) as :class:`IMDNKAIR` keys
    (``model.1.sub.N.c1.weight`` ...); head, body-end conv and upsampler keep their names."""
    out = {}
    for key, value in state.items():
        m = _BLOCK_KEY.match(key)
        out[f"model.1.sub.{m[1]}.{KAIR_BLOCK_KEYS[m[2]]}.{m[3]}" if m else key] = value
    return out


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    from srbench.models.weights import (
        load_state_dict_strict,
        load_torch_checkpoint,
        resolve_weights,
    )

    model = IMDNKAIR(upscale=scale, **card.arch)
    if pretrained:
        path, asset = resolve_weights(card, scale)
        load_state_dict_strict(model, kair_to_srbench(load_torch_checkpoint(path, asset.name)), asset.name)
    return model
