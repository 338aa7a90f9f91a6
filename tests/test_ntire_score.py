"""The NTIRE efficient-SR challenges, year by year: the ntire-esr protocol (RGB PSNR/SSIM, 4 px border),
each year's published baseline row reproduced from its published inputs and from srbench's counters,
and `srbench ntire-score`'s refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from srbench.cli import main
from srbench.cost.ntire_score import (
    counts,
    final_score,
    get_challenge,
    psnr_from_results,
)
from srbench.eval.compute import compute
from srbench.models.registry import get_card
from srbench.protocol.protocols import get_protocol

E2 = math.e ** 2  # every baseline scores exp(2 * 1) on each metric


def _pair(seed=0, h=40, w=36):
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-12, 13, hr.shape), 0, 255).astype(np.uint8)
    return sr, hr


def test_ntire_esr_psnr_is_rgb_mse_over_all_channels_with_a_4px_border():
    sr, hr = _pair()
    a, b = sr[4:-4, 4:-4].astype(np.float64), hr[4:-4, 4:-4].astype(np.float64)
    expected = 20 * math.log10(255.0 / math.sqrt(np.mean((a - b) ** 2)))  # utils_image.calculate_psnr
    assert compute("psnr", sr, hr, scale=4, protocol="ntire-esr") == pytest.approx(expected, abs=1e-10)
    assert compute("psnr", sr, hr, scale=4, protocol="ntire") != pytest.approx(compute("psnr", sr, hr, scale=4), abs=1e-3)


def test_ntire_esr_ssim_is_the_mean_of_the_channels_valid_maps():
    from skimage.metrics import structural_similarity

    sr, hr = _pair(1)
    expected = structural_similarity(sr[4:-4, 4:-4], hr[4:-4, 4:-4], channel_axis=2, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
    assert compute("ssim", sr, hr, scale=4, protocol="ntire-esr") == pytest.approx(expected, abs=1e-9)


def test_grey_images_are_read_as_rgb_and_earlier_identities_are_unchanged():
    sr, hr = _pair(2)
    g_sr, g_hr = sr[..., 0], hr[..., 0]
    a, b = g_sr[4:-4, 4:-4].astype(np.float64), g_hr[4:-4, 4:-4].astype(np.float64)
    assert compute("psnr", g_sr, g_hr, scale=4, protocol="ntire-esr") == pytest.approx(
        20 * math.log10(255 / math.sqrt(np.mean((a - b) ** 2))), abs=1e-10)
    assert "fidelity" not in get_protocol("matlab").to_dict()  # results made before the setting keep their keys
    assert get_protocol("ntire-esr").to_dict()["fidelity"] == "rgb"


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_published_baseline_score_from_published_inputs(year):
    ch = get_challenge(year)
    row = ch.baseline_row
    s = final_score(ch, row["runtime_ms"], row["flops_g"], row["params_m"])
    assert [round(s[k], 4) for k in ("runtime", "flops", "params", "final")] == [round(E2, 4)] * 3 + [row["score"]]
    w = {2024: (0.7, 0.15, 0.15), 2025: (0.7, 0.15, 0.15), 2026: (0.8, 0.1, 0.1)}[year]  # the READMEs' weights
    r2 = final_score(ch, 2 * row["runtime_ms"], row["flops_g"], 0.5 * row["params_m"])
    assert r2["final"] == pytest.approx(w[0] * math.e ** 4 + w[1] * E2 + w[2] * math.e, rel=1e-12)


@pytest.mark.parametrize("year, model", [(2022, "imdn-ntire"), (2023, "rfdn"), (2024, "rlfn")])
def test_counters_reproduce_the_published_baseline_rows(year, model):
    ch = get_challenge(year)
    assert ch.baseline == model
    c, row = counts(get_card(model), ch), ch.baseline_row
    assert round(c["params_m"], 3) == row["params_m"] and c["conv"] == row["conv"]
    assert round(c["flops_g"], 2) == row["flops_g"] and round(c["activations_m"], 2) == row["activations_m"]


def _cli(capsys, *args):
    capsys.readouterr()
    rc = main(["ntire-score", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


GATE_2024 = "div2k-lsdir-valid=26.96,div2k-lsdir-test=27.07"


def test_score_table_of_the_2024_baseline(capsys):
    rc, out, _ = _cli(capsys, "--year", "2024", "--model", "rlfn", "--psnr", GATE_2024, "--runtime-ms", "13.54",
                      "--runtime-device", "NVIDIA GeForce RTX 3090", "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["gate_passed"] and doc["scores"]["runtime"] == pytest.approx(E2)
    # exact counts (0.317218 M, 19.6749 G) against the published rounded row: a hair above e^2
    assert doc["scores"]["params"] == pytest.approx(math.exp(2 * 317218 / 1e6 / 0.317))
    assert round(doc["scores"]["final"], 2) == 7.39


def test_refusals_are_one_line_exit_2(capsys):
    rc, _, err = _cli(capsys, "--year", "2024", "--model", "rlfn")
    assert rc == 2 and "gates on PSNR" in err and err.count("\n") == 1
    rc, _, err = _cli(capsys, "--year", "2024", "--model", "rlfn", "--psnr", GATE_2024)
    assert rc == 2 and "--runtime-ms" in err and err.count("\n") == 1
    rc, _, err = _cli(capsys, "--year", "2025", "--model", "rlfn", "--psnr", GATE_2024, "--runtime-ms", "9",
                      "--runtime-device", "NVIDIA H100")
    assert rc == 2 and "never mixed" in err and err.count("\n") == 1
    rc, _, err = _cli(capsys, "--year", "2019", "--model", "rlfn")
    assert rc == 2 and "2022" in err


def test_runtime_on_another_gpu_scores_against_the_baseline_on_that_gpu(capsys):
    rc, out, _ = _cli(capsys, "--year", "2025", "--model", "rlfn", "--psnr", "div2k-lsdir-valid=26.8,div2k-lsdir-test=27",
                      "--runtime-ms", "9", "--runtime-device", "NVIDIA H100", "--baseline-runtime-ms", "12",
                      "--format", "json")
    doc = json.loads(out)
    assert rc == 0 and doc["runtime_same_gpu_baseline"] and not doc["gate_passed"]  # 26.8 < 26.90
    assert doc["scores"]["runtime"] == pytest.approx(math.exp(2 * 9 / 12))


def test_psnr_comes_from_complete_ntire_esr_results_only():
    def doc(protocol, dataset, psnr, limit=None):
        return {"model": "rlfn", "scale": 4, "protocol": {"name": protocol}, "dataset": dataset,
                "metrics": {"psnr": psnr}, "identity_key": "abcdef0123456789",
                "provenance": {"dataset": {"limit": limit, "complete": limit is None}, "precision": "fp32"}}

    docs = [doc("matlab", "div2k-lsdir-valid", 30.0), doc("ntire-esr", "div2k-lsdir-valid", 26.95),
            doc("ntire-esr", "div2k-lsdir-test", 27.5, limit=10)]
    got = psnr_from_results(docs, "rlfn", {"div2k-lsdir-valid", "div2k-lsdir-test"})
    assert {k: v[0] for k, v in got.items()} == {"div2k-lsdir-valid": 26.95}
