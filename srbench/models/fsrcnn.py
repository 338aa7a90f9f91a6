"""FSRCNN and FSRCNN-s (Dong, Loy, Tang, ECCV 2016, "Accelerating the Super-Resolution Convolutional
Neural Network"), ported from the official MATLAB test release (``FSRCNN_x{2,3,4}.mat``,
``FSRCNN-s_x{2,3,4}.mat``, redistributed at yaBorn/Super-resolution@c6b50c5:Model/FSRCNN/).

Y only: the input is MATLAB's Y (16-235 range) / 255 of the LR, N x 1 x h x w; the output is Y in
[0, 1] units at s x the size, neither clamped nor rounded. ``(d, s, m)`` = (56, 12, 4) for FSRCNN,
(32, 5, 1) for FSRCNN-s:

    Conv5x5(1->d) PReLU | Conv1x1(d->s) PReLU | m x [Conv3x3(s->s) PReLU] | Conv1x1(s->d) PReLU |
    ConvTranspose2d(d->1, 9, stride=S, padding=p, output_padding=S + 2p - 9)

Three details of the MATLAB code decide the numbers: every conv pads by replicating the border
(``imfilter(..., 'replicate')``; zero padding costs 0.3-0.8 dB); the deconvolution (``deconv.m``) first
pads its input by one replicated pixel, then keeps the output window starting ``s + p`` pixels into the
full transposed convolution (the replicated pixel changes the outermost output rows: 36.994 -> 36.997 dB
on Set5 x2); and ``p = 4`` at x2/x4 but ``p = 3`` at x3 (with 4 the x3 output is shifted by a pixel).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srbench.errors import SrbenchError

DECONV_K = 9


def deconv_padding(scale: int) -> int:
    return 3 if scale == 3 else 4


class FSRCNN(nn.Module):
    """Keys: ``convs.{i}.{weight,bias}`` (the m + 3 convolutions), ``prelus.{i}.weight`` (one slope
    each) and ``deconv.{weight,bias}``."""

    def __init__(self, scale: int, d: int = 56, s: int = 12, m: int = 4):
        super().__init__()
        if scale < 2:
            raise SrbenchError(f"FSRCNN: scale must be 2 or more, not {scale}")
        shapes = [(1, d, 5), (d, s, 1)] + [(s, s, 3)] * m + [(s, d, 1)]
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="replicate") for cin, cout, k in shapes
        )
        self.prelus = nn.ModuleList(nn.PReLU() for _ in shapes)
        p = deconv_padding(scale)
        # on the input padded by one pixel: crop s + p at the start, keep s x the unpadded size
        self.deconv = nn.ConvTranspose2d(d, 1, DECONV_K, stride=scale, padding=scale + p,
                                         output_padding=scale + 2 * p - DECONV_K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, act in zip(self.convs, self.prelus):
            x = act(conv(x))
        return self.deconv(F.pad(x, (1, 1, 1, 1), mode="replicate"))


def _cell(mat: dict, key: str, what: str) -> list:
    if key not in mat:
        raise SrbenchError(f"{what}: the .mat file has no '{key}'; is this an official FSRCNN model?")
    cell = mat[key]
    if cell.dtype != object:
        raise SrbenchError(f"{what}: '{key}' is not a MATLAB cell array")
    return [np.asarray(c) for c in cell.ravel()]


def convert_mat(mat: dict, what: str = "FSRCNN model") -> dict[str, np.ndarray]:
    """state_dict (numpy) from the official ``.mat``: conv i has W of shape (Cin, k*k, Cout), so
    ``w[o, i] = W[i, :, o].reshape(k, k, order='F')`` (MATLAB column-major; imfilter correlates, no
    flip); the last layer is the deconvolution, ``w[j, 0] = W[0, :, j].reshape(9, 9, order='F')``."""
    weights, biases, prelus = (_cell(mat, k, what) for k in ("weights_conv", "biases_conv", "prelu_conv"))
    n = len(weights)
    if n < 3 or len(biases) != n or len(prelus) != n:
        raise SrbenchError(f"{what}: {n} weight, {len(biases)} bias and {len(prelus)} PReLU entries; expected "
                           "as many of each, at least 3")
    state = {}
    for i, (w, b, a) in enumerate(zip(weights, biases, prelus)):
        k = round(float(np.sqrt(w.shape[1]))) if w.ndim == 3 else 0
        if w.ndim != 3 or k * k != w.shape[1]:
            raise SrbenchError(f"{what}: layer {i + 1} has weights {w.shape}, not (Cin, k*k, Cout)")
        cin, _, cout = w.shape
        kernel = w.reshape(cin, k, k, cout, order="F").transpose(3, 0, 1, 2)  # [o, i, r, c] = W[i, r + k c, o]
        if i < n - 1:
            if b.size != cout or a.size != 1:
                raise SrbenchError(f"{what}: layer {i + 1} has {b.size} biases and {a.size} PReLU slopes, expected "
                                   f"{cout} and one")
            state[f"convs.{i}.weight"] = kernel
            state[f"convs.{i}.bias"] = b.reshape(cout)
            state[f"prelus.{i}.weight"] = a.reshape(1)
        else:  # the deconvolution: W[0, :, j] is the kernel from feature j to the output
            if cin != 1 or b.size != 1 or a.size != 0:
                raise SrbenchError(f"{what}: the last layer has weights {w.shape}, {b.size} biases and {a.size} PReLU "
                                   "slopes; expected a deconvolution (1, k*k, d), one bias, no PReLU")
            state["deconv.weight"] = kernel  # ConvTranspose2d layout (d, 1, k, k)
            state["deconv.bias"] = b.reshape(1)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    """FSRCNN with the card's ``arch`` (d, s, m) at ``scale``."""
    from srbench.imaging.io import read_mat
    from srbench.models.weights import load_state_dict_strict, resolve_weights

    model = FSRCNN(scale, **card.arch)
    if pretrained:
        path, asset = resolve_weights(card, scale)
        state = convert_mat(read_mat(path, asset.name), asset.name)
        n_convs = len(model.convs)
        n_file = sum(1 for k in state if k.endswith(".bias") and k.startswith("convs."))
        if n_file != n_convs:
            d, s, m = (model.convs[0].out_channels, model.convs[1].out_channels, n_convs - 3)
            raise SrbenchError(f"{asset.name}: the file has {n_file + 1} layers, FSRCNN({d},{s},{m}) has "
                               f"{n_convs + 1}; is this the right file for this model?")
        load_state_dict_strict(model, state, asset.name)
    return model


__all__ = ["FSRCNN", "build", "convert_mat", "deconv_padding"]
