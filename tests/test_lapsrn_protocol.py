"""The `lapsrn` protocol: LapSRN's evaluation code, which produced the FSRCNN B100/Urban100 cells that
later papers copy (FALSR Table I, TPSR supplement Table 1, ICLR 2019 study Table 3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate

from srbench.metrics.fidelity import ssim, ssim_matlab
from srbench.protocol.protocols import get_protocol


def _matlab_ssim_reference(a, b, L=255.0):
    """MATLAB ssim(): fspecial('gaussian', 11, 1.5), imfilter(..., 'conv', 'replicate'), mean of the map."""
    ax = np.arange(11) - 5.0
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()

    def f(x):
        return correlate(x, g, mode="nearest")

    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    mx, my = f(a), f(b)
    sxx, syy, sxy = f(a * a) - mx * mx, f(b * b) - my * my, f(a * b) - mx * my
    return float(np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))))


@pytest.mark.parametrize("shape", [(11, 11), (40, 57), (96, 128)])
def test_matlab_ssim_equals_an_independent_2d_computation(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.uniform(0, 255, shape)
    b = np.clip(a + rng.normal(0, 12, shape), 0, 255)
    assert ssim_matlab(a, b) == pytest.approx(_matlab_ssim_reference(a, b), abs=1e-12)
    assert ssim_matlab(a, b) != pytest.approx(ssim(a, b), abs=1e-6)  # the border windows differ


def test_lapsrn_protocol_settings():
    p = get_protocol("lapsrn").to_dict()
    assert (p["lr_source"], p["lr_resize"], p["ssim"], p["y_rounding"], p["shave"]) == \
        ("generated", "double", "matlab-ssim", False, "scale")


@pytest.mark.slow
@pytest.mark.parametrize("dataset, scale, psnr, ssim_printed", [
    ("urban100", 4, 24.62, 0.728),   # FALSR Table I / TPSR supplement Table 1, FSRCNN row
    ("b100", 3, 28.53, 0.791),       # ICLR 2019 efficiency study Table 3, FSRCNN row
])
def test_fsrcnn_cells_of_later_papers_are_lapsrn_evaluations(datasets_root, dataset, scale, psnr, ssim_printed):
    from srbench.eval.driver import evaluate

    doc = evaluate("fsrcnn", dataset, scale, protocol="lapsrn", data_root=datasets_root, workers=2)
    assert round(doc["metrics"]["psnr"], 2) == psnr
    assert round(doc["metrics"]["ssim"], 3) == ssim_printed
