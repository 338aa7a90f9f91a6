"""Tiled inference equals untiled when the overlap covers the receptive field; precision is recorded."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from srbench.eval.driver import evaluate
from srbench.imaging.imresize import imresize
from srbench.imaging.io import read_image
from srbench.models.builder import build_model
from srbench.models.registry import get_card
from srbench.sources.inference import run_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def lr_crop(shared):
    hr, _ = read_image(shared / "datasets" / "Set14" / "HR" / "zebra.png")
    return imresize(hr[:384, :576], Fraction(1, 4)) / 255.0  # 96 x 144 LR


def test_tiled_equals_untiled_when_overlap_covers_receptive_field(lr_crop):
    # TPSR is fully convolutional with an LR receptive-field radius of 15 px.
    model = build_model(get_card("tpsr-nogan"), 4)
    full, _ = run_model(model, lr_crop, 4, CPU)
    tiled, _ = run_model(model, lr_crop, 4, CPU, tile=40, tile_overlap=16)
    assert np.abs(tiled - full).max() < 1e-3  # float32 summation order only (255 scale)
    seams, _ = run_model(model, lr_crop, 4, CPU, tile=40, tile_overlap=0)
    assert np.abs(seams - full).max() > 1.0  # without context, tile borders differ


def test_tiled_run_gives_identical_uint8_metrics(datasets_root):
    plain = evaluate("tpsr-nogan", "set5", 4, data_root=datasets_root, limit=2)
    tiled = evaluate("tpsr-nogan", "set5", 4, data_root=datasets_root, limit=2, tile=48, tile_overlap=16)
    assert tiled["metrics"]["psnr"] == pytest.approx(plain["metrics"]["psnr"], abs=1e-3)
    assert tiled["provenance"]["tile"] == 48 and tiled["provenance"]["tile_overlap"] == 16


def test_bf16_is_recorded_and_kept_apart(datasets_root, tmp_path):
    kw = {"data_root": datasets_root, "limit": 1, "out_dir": tmp_path, "protocol": "matlab", "metrics": ("psnr", "ssim")}
    fp32 = evaluate("tpsr-nogan", "set5", 4, **kw)
    bf16 = evaluate("tpsr-nogan", "set5", 4, precision="bf16", **kw)
    assert bf16["provenance"]["precision"] == "bf16" and bf16["provenance"]["dtype"] == "bfloat16"
    assert abs(bf16["metrics"]["psnr"] - fp32["metrics"]["psnr"]) < 0.5  # close, but not the same number
    names = [p.name for p in tmp_path.glob("*.json")]
    assert len(names) == 2 and all(n.startswith("tpsr-nogan__set5__x4__matlab__") for n in names)
    assert sum("__bf16__" in n for n in names) == 1


def test_cuda_request_without_gpu_is_a_clear_error(datasets_root):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from srbench.errors import SrbenchError

    with pytest.raises(SrbenchError, match="no CUDA GPU"):
        evaluate("bicubic", "set5", 2, data_root=datasets_root, device="cuda")
