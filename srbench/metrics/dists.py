"""DISTS (Ding, Ma, Wang and Simoncelli 2020), srbench's own implementation of the official model.

The network is the official ``dists-pytorch`` 0.1 one: torchvision's ImageNet VGG16 ``features`` with each
max-pooling replaced by an L2 pooling (3x3 Hann window [.5 1 .5]^2 / 4, stride 2, padding 1,
``sqrt(conv(x^2) + 1e-12)``); the six stages compared are the image itself and relu1_2, relu2_2,
relu3_3, relu4_3, relu5_3 (inputs normalised by the ImageNet mean/std). Per channel, the structure term
``(2 cov + c) / (var_x + var_y + c)`` and the texture term ``(2 mu_x mu_y + c) / (mu_x^2 + mu_y^2 + c)``
(c = 1e-6, spatial means over the whole image) are weighted by the learned ``alpha``/``beta`` (normalised
by their total) and DISTS = 1 - the weighted sum.

Weights: ``alpha``/``beta`` are the official ``weights.pt`` of the dists-pytorch 0.1 wheel (pinned by
sha256: the installed package's file, else the wheel from PyPI as an srbench asset); the VGG16 backbone is
the one srbench pins for LPIPS-VGG (:func:`srbench.metrics.lpips.load_backbone`).

Input: the pipeline's RGB pair (uint8, shaved as the protocol's ``lpips_shave``), as ``value / 255`` in
float32, the official ``prepare_image`` without resizing (the official script's default).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from srbench.errors import AssetMissingError, SrbenchError
from srbench.metrics.network import batched
from srbench.metrics.registry import register
from srbench.metrics.spec import Metric, MetricSpec
from srbench.store.assets import Asset, resolve, sha256_of

DISTS_WEIGHTS = Asset(
    name="DISTS alpha/beta (official dists-pytorch 0.1 wheel)",
    filename="dists_weights.pt",
    url=("https://files.pythonhosted.org/packages/fa/78/f76cbe06c88076f6d6d5ef16a7591a7e3b7eb225e39b035e16d95f0fb89c/"
         "DISTS_pytorch-0.1-py3-none-any.whl"),
    sha256="f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218",
    size=12288,
    license="MIT (DISTS_pytorch, Keyan Ding)",
    member="DISTS_pytorch/weights.pt",
    archive_sha256="73e54ce13e7cf3ca962ee8e433d129884ec3dc75e00a27af90525e1da760ac61",
    archive_size=20501,
)

CHANNELS = (3, 64, 128, 256, 512, 512)
# VGG16 ``features`` indices: the max-poolings DISTS replaces, and the ReLU closing each compared stage.
_POOLS = (4, 9, 16, 23)
_STAGE_ENDS = (3, 8, 15, 22, 29)
_C = 1e-6


def weights_file() -> Path:
    """The official ``weights.pt``: the installed dists-pytorch package's (sha256-checked), else the asset."""
    try:
        import DISTS_pytorch

        installed = Path(DISTS_pytorch.__file__).parent / "weights.pt"
        if installed.is_file() and sha256_of(installed) == DISTS_WEIGHTS.sha256:
            return installed
    except ImportError:
        pass
    try:
        return resolve(DISTS_WEIGHTS)
    except AssetMissingError as exc:
        raise AssetMissingError(f"{exc}; or pip install dists-pytorch==0.1 (srbench[dists])") from None


def load_alpha_beta() -> tuple:
    """(alpha, beta), each a float32 tensor (1, 1475, 1, 1), from the official weights file."""
    import torch

    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    alpha, beta = state["alpha"], state["beta"]
    if alpha.shape != (1, sum(CHANNELS), 1, 1) or beta.shape != alpha.shape:
        raise SrbenchError(f"DISTS weights have shape {tuple(alpha.shape)}, expected (1, {sum(CHANNELS)}, 1, 1)")
    return alpha.float(), beta.float()


def _network():
    import torch
    from torch import nn

    from srbench.metrics.lpips import load_backbone

    class L2Pool(nn.Module):
        def __init__(self, channels: int):
            super().__init__()
            a = np.hanning(5)[1:-1]
            g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
            self.register_buffer("filter", (g / g.sum())[None, None].repeat(channels, 1, 1, 1))

        def forward(self, x):
            out = nn.functional.conv2d(x * x, self.filter, stride=2, padding=1, groups=x.shape[1])
            return (out + 1e-12).sqrt()

    class DISTSNet(nn.Module):
        def __init__(self):
            super().__init__()
            import torchvision

            features = torchvision.models.vgg16(weights=None).features[:30]
            state, self.backbone_sha256, self.backbone_source = load_backbone("vgg")
            features.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items()}, strict=True)
            channels = {4: 64, 9: 128, 16: 256, 23: 512}
            self.features = nn.Sequential(*(L2Pool(channels[i]) if i in _POOLS else m for i, m in enumerate(features)))
            alpha, beta = load_alpha_beta()
            total = alpha.sum() + beta.sum()
            self.register_buffer("alpha", alpha / total)
            self.register_buffer("beta", beta / total)
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, -1, 1, 1))

        def stages(self, x):
            out, h = [x], (x - self.mean) / self.std
            for i, layer in enumerate(self.features):
                h = layer(h)
                if i in _STAGE_ENDS:
                    out.append(h)
            return out

        def forward(self, x, y):
            alphas = torch.split(self.alpha, CHANNELS, dim=1)
            betas = torch.split(self.beta, CHANNELS, dim=1)
            texture = structure = 0
            for fx, fy, a, b in zip(self.stages(x), self.stages(y), alphas, betas):
                mx, my = fx.mean([2, 3], keepdim=True), fy.mean([2, 3], keepdim=True)
                texture = texture + (a * (2 * mx * my + _C) / (mx**2 + my**2 + _C)).sum(1, keepdim=True)
                vx = ((fx - mx) ** 2).mean([2, 3], keepdim=True)
                vy = ((fy - my) ** 2).mean([2, 3], keepdim=True)
                cov = (fx * fy).mean([2, 3], keepdim=True) - mx * my
                structure = structure + (b * (2 * cov + _C) / (vx + vy + _C)).sum(1, keepdim=True)
            return 1 - (texture + structure).reshape(-1)

    net = DISTSNet().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@lru_cache(maxsize=2)
def _cached_network(device: str):
    import torch

    return _network().to(torch.device(device))


class DISTS(Metric):
    """DISTS on the prepared uint8 RGB pair (lower is better)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = _cached_network(self.device)
        return self._model

    def assets(self) -> dict[str, str]:
        from srbench.metrics.lpips import backbone_file

        weights_file()  # fails here, once, when no copy is available
        _, digest, source = backbone_file("vgg")
        return {f"dists-pytorch-0.1:{DISTS_WEIGHTS.member}": DISTS_WEIGHTS.sha256, source: digest}

    def __call__(self, pair) -> float:
        return self.batch([pair])[0]

    def batch(self, pairs) -> list[float]:
        return batched([p.lpips for p in pairs], _to_tensor, self.model, self.device)


def _to_tensor(images: list[np.ndarray], device):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(np.stack(images))).to(device)  # N,H,W,3 uint8
    return (x.permute(0, 3, 1, 2).float() / 255.0).contiguous()


register(MetricSpec(
    "dists", "DISTS", False, "lpips", (0.0, 1.0), "",
    "DISTS (Ding et al. 2020), official dists-pytorch 0.1 alpha/beta, torchvision VGG16 ImageNet backbone, "
    "whole RGB image / 255 (no resize), shaved as the protocol's lpips_shave",
    "srbench.metrics.dists:DISTS", ".4f", 0.002,
))
