"""Metric speed on one core, srbench side by side with the reference implementations (report only).

    SRBENCH_SHARED=/path/to/shared python benchmarks/bench_metrics.py [--images 3] [--rounds 5]

For each of the first --images Urban100 images of 1024x768 (HR) and its MATLAB-bicubic x4
reconstruction (SR):
- SSIM of the float64 Y pair, Wang settings: srbench.metrics.fidelity.ssim vs scikit-image's
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)``;
- NIQE of the SR (PIRM-2018 input: rounded Y, 4 px shaved): srbench.metrics.niqe.niqe vs pyiqa's
  ``niqe`` (optional extra; its parameter file is pre-seeded from the mirror into a temporary
  TORCH_HOME, so nothing is downloaded), with the same parameter file;
- LPIPS (AlexNet) of the pair on the CPU: build_metric("lpips").
Each time is the best of --rounds runs, as wall-clock ms and as this thread's CPU ms (steadier when
other processes share the machine). numpy/BLAS/OpenMP and torch are held to one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy, scipy and torch load their thread pools

import argparse
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SRBENCH_SHARED", REPO.parent / "shared"))


def best_of(rounds: int, fn, *args) -> tuple[object, float, float]:
    """(value, best wall ms, best thread-CPU ms) of ``rounds`` calls ``fn(*args)`` after a warm-up call."""
    value = fn(*args)
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.thread_time()
        value = fn(*args)
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return value, 1000 * min(walls), 1000 * min(cpus)


def urban100_1024x768(count: int) -> list[Path]:
    from PIL import Image

    paths = []
    for path in sorted((SHARED / "datasets" / "Urban100" / "HR").glob("*.png")):
        with Image.open(path) as im:
            if im.size == (1024, 768):
                paths.append(path)
        if len(paths) == count:
            break
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3, help="number of Urban100 1024x768 images")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per measurement (best is kept)")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} (datasets, weights) is not present: set SRBENCH_SHARED", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="srbench_bench_"))
    os.environ["SRBENCH_OFFLINE"] = "1"
    os.environ["SRBENCH_HOME"] = str(work / "srbench_home")
    mirrors = [str(SHARED / "weights")] + [p for p in os.environ.get("SRBENCH_MIRROR", "").split(os.pathsep) if p]
    os.environ["SRBENCH_MIRROR"] = os.pathsep.join(dict.fromkeys(mirrors))

    import torch
    from skimage.metrics import structural_similarity

    from srbench.imaging.color import rgb_to_y
    from srbench.imaging.imresize import imresize, round_uint8
    from srbench.imaging.io import modcrop, read_image
    from srbench.metrics.fidelity import ssim
    from srbench.metrics.niqe import NIQE_PARAMS, load_niqe_params, niqe
    from srbench.metrics.registry import build_metric, get_metric
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import get_protocol
    from srbench.store.assets import resolve

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    # pyiqa looks for $TORCH_HOME/hub/pyiqa/niqe_modelparameters.mat (its DEFAULT_CACHE_DIR, fixed at import)
    pyiqa_metric, pyiqa_note = None, ""
    torch_home = work / "torch_home"
    (torch_home / "hub" / "pyiqa").mkdir(parents=True)
    shutil.copy(resolve(NIQE_PARAMS), torch_home / "hub" / "pyiqa" / "niqe_modelparameters.mat")
    saved = {k: os.environ.get(k) for k in ("TORCH_HOME", "HF_HUB_OFFLINE")}
    os.environ.update(TORCH_HOME=str(torch_home), HF_HUB_OFFLINE="1")
    try:
        import pyiqa

        pyiqa_metric = pyiqa.create_metric("niqe", device="cpu", color_space="ycbcr", crop_border=4)
    except ImportError:
        pyiqa_note = "pyiqa is not installed (optional extra srbench[pyiqa]): NIQE reference skipped"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    skimage_wang = partial(structural_similarity, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                           data_range=255)
    mu, cov = load_niqe_params()
    matlab = get_protocol("matlab")
    lpips = build_metric("lpips", device="cpu", **pipeline.metric_settings(matlab, get_metric("lpips")))

    paths = urban100_1024x768(args.images)
    print(f"one core: OMP/MKL/OPENBLAS threads 1, torch threads {torch.get_num_threads()}; best of {args.rounds} "
          "runs; times in ms as wall / thread CPU")
    if pyiqa_note:
        print(pyiqa_note)
    header = (f"{'image':<12} {'SSIM srbench':>14} {'skimage':>14} {'ratio':>11} {'|diff|':>8}   "
              f"{'NIQE srbench':>14} {'pyiqa':>14} {'ratio':>11} {'value ours / pyiqa':>20}   {'LPIPS':>14}")
    print(header)
    rows = []
    for path in paths:
        hr, _ = read_image(path)
        hr = modcrop(hr, 4)
        sr = imresize(imresize(hr, Fraction(1, 4)), 4)
        y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)  # float64, 1024x768

        ours, s_wall, s_cpu = best_of(args.rounds, ssim, y_sr, y_hr)
        ref, k_wall, k_cpu = best_of(args.rounds, skimage_wang, y_hr, y_sr)

        nr = round_uint8(y_sr).astype(np.float64)[4:-4, 4:-4]  # PIRM-2018: rounded Y, 4 px shaved
        q_ours, n_wall, n_cpu = best_of(args.rounds, niqe, nr, mu, cov)
        if pyiqa_metric is not None:
            x = torch.from_numpy(sr).permute(2, 0, 1)[None].double() / 255
            q_ref, p_wall, p_cpu = best_of(args.rounds, pyiqa_metric, x)
            q_ref = float(q_ref)
        pair = pipeline.prepare_arrays(matlab, sr, hr, 4, {"lpips"})
        _, l_wall, l_cpu = best_of(args.rounds, lpips, pair)

        line = (f"{path.name:<12} {s_wall:6.1f} / {s_cpu:5.1f} {k_wall:6.1f} / {k_cpu:5.1f} "
                f"{k_wall / s_wall:4.1f}/{k_cpu / s_cpu:4.1f}x {abs(ours - ref):8.1e}   {n_wall:6.1f} / {n_cpu:5.1f} ")
        if pyiqa_metric is not None:
            line += (f"{p_wall:6.1f} / {p_cpu:5.1f} {p_wall / n_wall:4.1f}/{p_cpu / n_cpu:4.1f}x "
                     f"{q_ours:9.5f} / {q_ref:8.5f}   ")
        else:
            line += f"{'-':>14} {'-':>11} {q_ours:9.5f} / {'-':>8}   "
        line += f"{l_wall:6.1f} / {l_cpu:5.1f}"
        print(line, flush=True)
        rows.append((s_cpu, k_cpu, n_cpu, p_cpu if pyiqa_metric is not None else np.nan, l_cpu))

    if rows:
        s, k, n, p, l_ = np.mean(rows, axis=0)
        summary = f"mean CPU ms: SSIM {s:.1f} vs skimage {k:.1f} ({k / s:.1f}x), NIQE {n:.1f}"
        if pyiqa_metric is not None:
            summary += f" vs pyiqa {p:.1f} ({p / n:.1f}x)"
        print(summary + f", LPIPS {l_:.1f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
