"""``srbench certify`` and the NIQE certificate: official values of pyiqa's TID2013 calibration images.

Official NIQE (MATLAB release, rgb2gray input; chaofengc/IQA-PyTorch ResultsCalibra.md, NIQE(org)):
I03 15.7536, I04 3.6549, I06 3.2355, I08 3.1840, I19 8.6352. The images are read from the installed
pyiqa wheel (``ResultsCalibra/dist_dir``), never from the repository.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from srbench.cli import main
from srbench.eval import certify as srb_certify
from srbench.metrics import niqe as srb_niqe
from srbench.metrics.certificates import certificate_info

OFFICIAL_NIQE = {"I03": 15.7536, "I04": 3.6549, "I06": 3.2355, "I08": 3.1840, "I19": 8.6352}


@pytest.fixture(scope="module")
def calib_root():
    root = srb_certify.calibration_dir()
    if root is None:
        pytest.skip("the calibration images ship in the pyiqa wheel (optional extra srbench[pyiqa])")
    return root


def _gray(path):
    from PIL import Image

    with Image.open(path) as im:
        rgb = np.array(im.convert("RGB")).astype(np.float64)
    # MATLAB rgb2gray on uint8 (coefficients of inv(YIQ)), rounded half away from zero
    return np.floor(rgb @ [0.298936021293775, 0.587043074451121, 0.114020904255103] + 0.5)


def test_niqe_equals_the_official_release_where_well_conditioned(calib_root):
    mu, cov = srb_niqe.load_niqe_params()
    flagged = set()
    for name, official in OFFICIAL_NIQE.items():
        value, cond = srb_niqe.niqe_conditioning(_gray(calib_root / "dist_dir" / f"{name}.bmp"), mu, cov)
        assert value == srb_niqe.niqe(_gray(calib_root / "dist_dir" / f"{name}.bmp"), mu, cov)
        if cond["flagged"]:
            flagged.add(name)
            assert cond["residue_share"] > 0 and cond["sensitivity"] > srb_niqe.CONDITIONING_TOLERANCE
        else:
            assert value == pytest.approx(official, rel=1e-3), name
    # I04 has no flat area at all; I19 is a quarter rounding residues (flat areas)
    assert "I04" not in flagged and "I06" not in flagged and "I19" in flagged


def test_niqe_conditioning_of_a_flat_image_and_of_a_textured_one():
    rng = np.random.default_rng(0)
    textured = rng.integers(0, 256, (192, 192)).astype(np.float64)
    mu, cov = srb_niqe.load_niqe_params()
    _, cond = srb_niqe.niqe_conditioning(textured, mu, cov)
    assert cond == {"residue_share": 0.0, "flat_blocks": 0.0, "sensitivity": 0.0, "flagged": False}
    half_flat = textured.copy()
    half_flat[:, :96] = 100.0
    _, cond = srb_niqe.niqe_conditioning(half_flat, mu, cov)
    assert cond["flat_blocks"] == 0.5 and 0.3 < cond["residue_share"] < 0.5


def test_certify_prints_its_table_and_passes(calib_root, capsys):
    assert main(["certify", "--metrics", "niqe,psnr_rgb"]) == 0
    out = capsys.readouterr().out
    assert "max |delta|" in out and out.count(" pass ") == 2 and "I19" in out  # I19 reported as ill-conditioned
    assert main(["certify", "--metrics", "niqe,psnr_rgb", "--format", "json"]) == 0
    reports = json.loads(capsys.readouterr().out)["certificates"]
    for r in reports:
        # the figures recorded in the certificate (and in results' metric_info) are the ones measured now
        assert r["max_abs_delta"] == pytest.approx(certificate_info(r["metric"])["max_abs_delta"], abs=1e-6)
        for row in r["rows"]:
            assert row["delta"] == pytest.approx(row["value"] - row["official"] if not r["relative"]
                                                 else (row["value"] - row["official"]) / row["official"], abs=1e-12)


def test_certify_exits_1_on_disagreement(calib_root, monkeypatch, capsys):
    import copy

    doc = copy.deepcopy(srb_certify.load_certificates())
    doc["metrics"]["psnr_rgb"]["values"]["I04"] = 21.05  # 0.06 dB off the published 20.99
    monkeypatch.setattr(srb_certify, "load_certificates", lambda: doc)
    assert main(["certify", "--metrics", "psnr_rgb"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_certify_rejects_an_uncertified_metric(capsys):
    assert main(["certify", "--metrics", "ssim"]) == 2
    assert "no certificate" in capsys.readouterr().err


@pytest.mark.slow
def test_certify_network_metrics(calib_root):
    # LPIPS (official lpips) and DISTS (official DISTS_pytorch) on the five whole pairs: VGG16 on CPU
    for r in srb_certify.certify(["lpips_alex", "dists"]):
        assert r["status"] == "pass", r
        assert r["max_abs_delta"] == pytest.approx(certificate_info(r["metric"])["max_abs_delta"], abs=1e-6)


def test_results_carry_the_certificate_and_the_niqe_conditioning(tmp_path, capsys):
    assert main(["run", "--model", "bicubic", "--set", "demo", "--scale", "4", "--metrics", "psnr,niqe", "--limit", "2",
                 "--workers", "1", "--out", str(tmp_path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)["results"][0]
    cert = doc["metric_info"]["niqe"]["certificate"]
    assert cert["version"] == srb_certify.load_certificates()["version"] and cert["tolerance"] == 0.001
    assert "certificate" not in doc["metric_info"]["psnr"]  # Y-PSNR has none (psnr_rgb has)
    for image in doc["images"]:
        assert set(image["niqe_conditioning"]) == {"residue_share", "flat_blocks", "sensitivity", "flagged"}


def test_a_set_mean_with_ill_conditioned_images_carries_a_note():
    from srbench.metrics.registry import metric_notes
    from srbench.report.leaderboard import metric_notes as table_notes

    records = [{"name": "a.png", "niqe_conditioning": {"flagged": True}},
               {"name": "b.png", "niqe_conditioning": {"flagged": False}}, {"name": "c.png"}]
    notes = metric_notes("niqe", records)
    assert notes["ill_conditioned"] == ["a.png"] and "1 image(s)" in notes["note"] and "a.png" in notes["note"]
    assert "note" not in metric_notes("niqe", records[1:])

    from types import SimpleNamespace

    table = SimpleNamespace(models=["m"], sets=["set5"], docs={("m", "set5"): {"metric_info": {"niqe": notes, "psnr": {}}}})
    (line,) = table_notes(table)
    assert line.startswith("- `m` Set5 NIQE: the mean includes 1 image(s)")
