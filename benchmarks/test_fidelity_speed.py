"""SSIM speed against scikit-image (Wang settings) on a 1024x768 image: report-only timings.

Run: .venv/bin/python -m pytest benchmarks/ --benchmark-only
"""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from srbench.metrics.fidelity import ssim


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (768, 1024)).astype(np.float64)
    sr = np.clip(hr + rng.normal(0, 8, hr.shape), 0, 255)
    return sr, hr


def _skimage(sr, hr):
    return structural_similarity(hr, sr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)


def test_ssim_srbench(benchmark, pair):
    value = benchmark(ssim, *pair)
    assert value == pytest.approx(_skimage(*pair), abs=1e-6)


def test_ssim_skimage_wang(benchmark, pair):
    benchmark(_skimage, *pair)
