"""Runtime and peak memory (srbench/runtime.py): both methods on CPU, the peak-RSS measurement against
a known allocation, the CLI, and the CUDA paths where a GPU is present (skipped otherwise).
Timings are never asserted against a speed (benchmarks/ reports those)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from srbench.cli import main
from srbench.cost.runtime import (
    MIB,
    cpu_peak_memory,
    rss_increase,
    rss_peak_available,
    time_forward,
    time_set,
)

needs_rss = pytest.mark.skipif(not rss_peak_available(), reason="no /proc/self/clear_refs (Linux only)")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def _net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2))


def test_both_methods_on_cpu():
    x = torch.rand(1, 3, 24, 24)
    prior = torch.get_num_threads()
    ntire = time_forward(_net(), x, "cpu", "ntire", threads=1)
    clean = time_forward(_net(), x, "cpu", "clean", threads=1, warmup=1, min_run_time=0.05, min_repeats=5)
    assert torch.get_num_threads() == prior  # restored
    assert ntire["method"] == "ntire" and ntire["warmup"] == 0 and ntire["iqr_ms"] is None and ntire["ms"] > 0
    assert clean["method"] == "clean" and clean["iqr_ms"] >= 0 and clean["ms"] > 0 and clean["warmup"] == 1
    for r in (ntire, clean):
        env = r["environment"]
        assert env["threads"] == 1 and env["device"] == "cpu" and env["torch"] == torch.__version__
        assert {"cuda", "cudnn", "cudnn_benchmark", "tf32_matmul", "tf32_cudnn", "device_name"} <= set(env)
        assert r["peak_memory_mib"] is None  # not asked
    json.dumps([ntire, clean])


def test_set_means_per_image_times():
    xs = [torch.rand(1, 3, 16, 16), torch.rand(1, 3, 20, 12)]
    r = time_set(_net(), xs, "cpu", "ntire")
    assert r["images"] == 2 and r["ms"] == pytest.approx(sum(r["per_image_ms"]) / 2)
    r = time_set(_net(), xs, "cpu", "clean", min_run_time=0.02, warmup=0)
    assert len(r["per_image_iqr_ms"]) == 2 and r["ms"] == pytest.approx(sum(r["per_image_ms"]) / 2)


@needs_rss
def test_rss_increase_sees_a_known_allocation():
    n = 64 * MIB // 4

    def touch():
        t = torch.ones(n)  # 64 MiB written, then freed on return
        return float(t[-1])

    inc = rss_increase(touch)
    # The kernel's RSS counters are batched per CPU: exact to a few hundred KiB, not to the byte.
    assert 63 * MIB <= inc < 64 * MIB + 16 * MIB
    assert rss_increase(lambda: None) < 4 * MIB


@needs_rss
def test_cpu_peak_memory_covers_the_output():
    model, x = _net().eval(), torch.rand(1, 3, 256, 256)
    peak, kind = cpu_peak_memory(model, [x])
    out_mib = 3 * 512 * 512 * 4 / MIB
    assert peak >= out_mib and "resident" in kind
    assert time_forward(model, x, "cpu", "ntire", memory=True)["peak_memory_mib"] >= out_mib


def test_bad_method_and_missing_gpu_are_one_line(capsys):
    from srbench.errors import SrbenchError

    with pytest.raises(SrbenchError, match="method"):
        time_forward(_net(), torch.rand(1, 3, 8, 8), "cpu", "fast")
    if not torch.cuda.is_available():
        assert main(["profile", "--model", "imdn-rtc", "--runtime", "--device", "cuda", "--input", "16x16"]) == 2
        err = capsys.readouterr().err.strip()
        assert "CUDA" in err and len(err.splitlines()) == 1
    assert main(["profile", "--model", "imdn-rtc", "--input", "16x16"]) == 2  # images to time, but no --runtime
    assert "--runtime" in capsys.readouterr().err


def test_cli_prints_both_methods_with_median_and_iqr(capsys):
    assert main(["profile", "--model", "imdn-rtc", "--scale", "2", "--runtime", "--memory", "--input", "40x24",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    ntire = next(line for line in out.splitlines() if line.startswith("imdn-rtc") and " ntire " in line)
    clean = next(line for line in out.splitlines() if line.startswith("imdn-rtc") and " clean " in line)
    assert "random 40x24" in ntire and ntire.split()[-2] == "-"  # no IQR for ntire
    float(clean.split()[-2]), float(clean.split()[-1])  # IQR and peak memory are numbers
    assert "cudnn.benchmark" in out and "1 threads" in out


def test_cli_times_the_lr_images_of_a_set(shared, capsys):
    from srbench.cost.profile import set_inputs
    from srbench.datasets import open_dataset
    from srbench.imaging.imresize import imresize
    from srbench.imaging.io import modcrop, read_image
    from srbench.models.registry import get_card

    root = shared / "datasets"
    xs = set_inputs(get_card("imdn-rtc"), 2, "set5", root, 2, torch.float32)
    hr, _ = read_image(open_dataset("set5", root).samples[0].hr_path)
    want = imresize(modcrop(hr, 2), Fraction(1, 2)).astype(np.float64) / 255
    assert len(xs) == 2 and np.array_equal(xs[0][0].permute(1, 2, 0).double().numpy(), want.astype(np.float32).astype(np.float64))
    assert main(["profile", "--model", "imdn-rtc", "--scale", "2", "--runtime", "--runtime-method", "ntire",
                 "--set", "set5", "--limit", "2", "--data-root", str(root), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)[0]
    (r,) = doc["runtime"]
    assert r["input"] == "set5 (2 images)" and r["images"] == 2 and len(r["per_image_ms"]) == 2


@needs_cuda
@pytest.mark.parametrize("method", ["ntire", "clean"])
def test_cuda_methods(method):
    model, xs = _net(), [torch.rand(1, 3, 64, 64), torch.rand(1, 3, 32, 32)]
    r = time_set(model, xs, "cuda", method, min_run_time=0.05)
    weights = sum(p.numel() for p in model.parameters()) * 4
    assert r["peak_memory_mib"] * MIB >= weights + 3 * 128 * 128 * 4  # weights + the largest output
    assert r["environment"]["device_name"] == torch.cuda.get_device_name(0)
    assert r["environment"]["cudnn_benchmark"] is False
    assert "max_memory_allocated" in r["memory_kind"]
    assert all(t > 0 for t in r["per_image_ms"])
