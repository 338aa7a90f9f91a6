"""The bicubic baseline: MATLAB ``imresize(LR, s, 'bicubic')`` of the LR, in float64."""

from __future__ import annotations

import numpy as np
import torch

from srbench.imaging.imresize import imresize


class BicubicUpsampler(torch.nn.Module):
    # The evaluator feeds float64 to modules with this flag, so the vdsr protocol's double LR
    # reaches imresize unrounded.
    wants_float64 = True

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().cpu().double().numpy().transpose(0, 2, 3, 1)
        out = np.stack([imresize(a, self.scale) for a in arr])
        return torch.from_numpy(out.transpose(0, 3, 1, 2).copy()).to(x.device, x.dtype)


def build(card, scale: int, pretrained: bool = True) -> torch.nn.Module:
    return BicubicUpsampler(scale)
