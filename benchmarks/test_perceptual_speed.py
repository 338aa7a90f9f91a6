"""Speed of the perceptual metrics (report-only: no timing is asserted).

    .venv/bin/pytest benchmarks/test_perceptual_speed.py -s

- NIQE on a 1024x768 image on the CPU, srbench vs pyiqa's ``niqe`` (optional extra) given the same
  parameter file; both values are printed and must agree within 1%.
- LPIPS (AlexNet) batched on ``cuda`` when available, else on the CPU.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SRBENCH_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="module", autouse=True)
def _offline_env(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip("../shared (weights, calibration images) is not present")
    mp = pytest.MonkeyPatch()
    mp.setenv("SRBENCH_OFFLINE", "1")
    mp.setenv("SRBENCH_HOME", str(tmp_path_factory.mktemp("srbench_home")))
    mirrors = [str(SHARED / "weights")] + [p for p in os.environ.get("SRBENCH_MIRROR", "").split(os.pathsep) if p]
    mp.setenv("SRBENCH_MIRROR", os.pathsep.join(mirrors))
    yield
    mp.undo()


def _rgb(path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def image_1024x768():
    from srbench.imaging.imresize import imresize

    # a 512x384 calibration photograph, MATLAB-bicubic x2 (uint8)
    return imresize(_rgb(SHARED / "calibration" / "images" / "ref_dir" / "I08.bmp"), 2)


def _best_of(fn, rounds: int = 3) -> tuple[float, float]:
    times, value = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, min(times)


@pytest.mark.benchmark(group="niqe-1024x768-cpu")
def test_niqe_srbench(benchmark, image_1024x768):
    from srbench.metrics.registry import build_metric, get_metric
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import get_protocol

    pirm = get_protocol("pirm")
    metric = build_metric("niqe", **pipeline.metric_settings(pirm, get_metric("niqe")))
    pair = pipeline.prepare_arrays(pirm, image_1024x768, image_1024x768, 4, {"nr"})
    value = benchmark.pedantic(metric, args=(pair,), rounds=5, iterations=1, warmup_rounds=1)
    print(f"\nsrbench NIQE 1024x768: {value:.6f}")


@pytest.mark.benchmark(group="niqe-1024x768-cpu")
def test_niqe_pyiqa(benchmark, image_1024x768, tmp_path):
    pytest.importorskip("pyiqa", reason="pyiqa (optional extra srbench[pyiqa]) is not installed")
    import torch
    from pyiqa.archs.niqe_arch import NIQE as PyiqaNIQE

    from srbench.metrics.niqe import NIQE_PARAMS
    from srbench.metrics.registry import build_metric, get_metric
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import get_protocol
    from srbench.store.assets import resolve

    params = tmp_path / "niqe_modelparameters.mat"  # the same parameters, handed over explicitly
    shutil.copy(resolve(NIQE_PARAMS), params)
    ref = PyiqaNIQE(test_y_channel=True, color_space="ycbcr", crop_border=4, pretrained_model_path=str(params))
    x = torch.from_numpy(image_1024x768).permute(2, 0, 1)[None].double() / 255

    def run():
        with torch.no_grad():
            return float(ref(x))

    value = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)

    pirm = get_protocol("pirm")
    ours = build_metric("niqe", **pipeline.metric_settings(pirm, get_metric("niqe")))
    pair = pipeline.prepare_arrays(pirm, image_1024x768, image_1024x768, 4, {"nr"})
    ours(pair)  # load parameters
    ours_value, ours_time = _best_of(lambda: ours(pair), rounds=5)
    _, pyiqa_time = _best_of(run, rounds=3)
    print(f"\nNIQE 1024x768 CPU ({torch.get_num_threads()} torch threads): srbench {ours_value:.6f} in "
          f"{ours_time * 1000:.1f} ms, pyiqa {value:.6f} in {pyiqa_time * 1000:.1f} ms, "
          f"srbench is {pyiqa_time / ours_time:.1f}x faster")
    assert ours_value == pytest.approx(value, rel=0.01)


@pytest.mark.benchmark(group="lpips-alex")
def test_lpips_alex_batched(benchmark):
    import torch

    from srbench.metrics.registry import build_metric, get_metric
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import get_protocol

    device = "cuda" if torch.cuda.is_available() else "cpu"
    matlab = get_protocol("matlab")
    root = SHARED / "calibration" / "images"
    pairs = [
        pipeline.prepare_arrays(matlab, _rgb(root / "dist_dir" / f"{n}.bmp"), _rgb(root / "ref_dir" / f"{n}.bmp"), 4,
                                {"lpips"})
        for n in ("I03", "I04", "I06", "I08", "I19")
    ] * 2
    metric = build_metric("lpips", device=device, **pipeline.metric_settings(matlab, get_metric("lpips")))
    metric.batch(pairs[:1])  # load the network (not timed)

    def run():
        values = metric.batch(pairs)
        if device == "cuda":
            torch.cuda.synchronize()
        return values

    values = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    print(f"\nLPIPS-alex on {device}, {len(pairs)} pairs of 504x376: {np.round(values[:5], 6).tolist()}")
