"""DISTS against the official dists-pytorch 0.1 package (its own network class and forward), and the
published values of pyiqa's calibration table through ``srbench certify``."""

from __future__ import annotations

import types

import numpy as np
import pytest

from srbench.eval.certify import calibration_dir
from srbench.metrics import dists as srb_dists
from srbench.metrics import lpips as srb_lpips
from srbench.metrics.registry import build_metric, get_metric
from srbench.protocol import pipeline
from srbench.protocol.protocols import get_protocol


@pytest.fixture(scope="module")
def calib():
    root = calibration_dir()
    if root is None:
        pytest.skip("the calibration images ship in the pyiqa wheel (optional extra srbench[pyiqa])")
    from PIL import Image

    def rgb(p):
        with Image.open(p) as im:
            return np.array(im.convert("RGB"))

    return {n: (rgb(root / "dist_dir" / f"{n}.bmp"), rgb(root / "ref_dir" / f"{n}.bmp"))
            for n in ("I03", "I04", "I06", "I08", "I19")}


@pytest.fixture(scope="module")
def official():
    """The official DISTS module with the official weights.pt and the same pinned VGG16 backbone, copied
    in by module order (no download: torchvision's vgg16 is built without weights)."""
    dists_pt = pytest.importorskip("DISTS_pytorch.DISTS_pt", reason="dists-pytorch==0.1 (srbench[dists]) is not installed")
    import torch
    import torchvision

    real = dists_pt.models
    dists_pt.models = types.SimpleNamespace(vgg16=lambda pretrained=True: torchvision.models.vgg16(weights=None))
    try:
        ref = dists_pt.DISTS(load_weights=False)
    finally:
        dists_pt.models = real
    weights = torch.load(srb_dists.weights_file(), map_location="cpu", weights_only=True)
    state, _, _ = srb_lpips.load_backbone("vgg")
    kernels = [state[k] for k in sorted((k for k in state if k.endswith("weight")), key=lambda k: int(k.split(".")[1]))]
    biases = [state[k] for k in sorted((k for k in state if k.endswith("bias")), key=lambda k: int(k.split(".")[1]))]
    convs = [m for m in ref.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == len(kernels) == 13
    with torch.no_grad():
        ref.alpha.copy_(weights["alpha"])
        ref.beta.copy_(weights["beta"])
        for conv, w, b in zip(convs, kernels, biases):
            conv.weight.copy_(w)
            conv.bias.copy_(b)
    return ref.eval()


def _official_values(ref, pairs):
    import torch
    from DISTS_pytorch.DISTS_pt import prepare_image
    from PIL import Image

    with torch.no_grad():
        return np.array([float(ref(prepare_image(Image.fromarray(sr)), prepare_image(Image.fromarray(hr))))
                         for sr, hr in pairs])


def test_dists_equals_the_official_package(calib, official):
    protocol = get_protocol("matlab").with_settings(lpips_shave=0)
    # crops of three pairs (speed), two of odd sizes: the L2 pooling's borders
    pairs = [(s[100:196, 150:278], h[100:196, 150:278]) for s, h in list(calib.values())[::2]]
    pairs += [(s[7:110, 13:140], h[7:110, 13:140]) for s, h in list(calib.values())[:2]]
    metric = build_metric("dists")
    prepared = [pipeline.prepare_arrays(protocol, s, h, 1, {"lpips"}) for s, h in pairs]
    ours = np.array(metric.batch(prepared))
    ref = _official_values(official, pairs)
    assert np.abs(ours - ref).max() < 1e-6
    assert metric(prepared[0]) == pytest.approx(ours[0], abs=1e-7)
    assert ours[0] > 0.3 and ours[1] < 0.15  # a strong (I03) and a mild (I06) distortion


def test_dists_shaves_as_the_protocol_says(calib, official):
    s, h = (x[50:170, 60:200] for x in calib["I08"])
    pirm = get_protocol("pirm")  # lpips_shave = 4 whatever the scale
    value = build_metric("dists")(pipeline.prepare_arrays(pirm, s, h, 2, {"lpips"}))
    assert value == pytest.approx(_official_values(official, [(s[4:-4, 4:-4], h[4:-4, 4:-4])])[0], abs=1e-6)
    assert get_metric("dists").input == "lpips" and not get_metric("dists").higher_is_better


def test_dists_weights_are_the_pinned_file():
    import hashlib

    path = srb_dists.weights_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == srb_dists.DISTS_WEIGHTS.sha256
    alpha, beta = srb_dists.load_alpha_beta()
    assert alpha.shape == (1, 1475, 1, 1) and float(alpha.sum() + beta.sum()) > 0
