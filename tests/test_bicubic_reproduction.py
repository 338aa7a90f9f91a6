"""The bicubic table of SPEC §2 (VDSR lineage) through the real CLI, all 12 cells."""

import json

import pytest

from srbench.cli import main

# Published bicubic rows (VDSR, Kim et al. CVPR 2016, Table 2): (set, scale) -> (PSNR, SSIM).
PUBLISHED = {
    ("set5", 2): (33.66, 0.9299), ("set5", 3): (30.39, 0.8682), ("set5", 4): (28.42, 0.8104),
    ("set14", 2): (30.24, 0.8688), ("set14", 3): (27.55, 0.7742), ("set14", 4): (26.00, 0.7027),
}


def _run(capsys, datasets_root, tmp_path, protocol):
    rc = main(["run", "--model", "bicubic", "--set", "set5,set14", "--scale", "2,3,4", "--protocol", protocol,
               "--data-root", str(datasets_root), "--out", str(tmp_path / protocol), "--format", "json"])
    assert rc == 0
    docs = json.loads(capsys.readouterr().out)["results"]
    return {(d["dataset"], d["scale"]): d for d in docs}


def test_vdsr_protocol_reproduces_published_bicubic_table(capsys, datasets_root, tmp_path):
    got = _run(capsys, datasets_root, tmp_path, "vdsr")
    assert set(got) == set(PUBLISHED)
    for key, (psnr, ssim) in PUBLISHED.items():
        m = got[key]["metrics"]
        assert m["psnr"] == pytest.approx(psnr, abs=0.01), key
        assert m["ssim"] == pytest.approx(ssim, abs=0.0005), key
        assert got[key]["protocol"]["lr_resize"] == "double" and got[key]["protocol"]["y_rounding"] is True


def test_canonical_protocol_bicubic_sits_within_hundredths(capsys, datasets_root, tmp_path):
    # Canonical LR is uint8 (as every model sees it) and Y is float: a few hundredths of a dB at most.
    got = _run(capsys, datasets_root, tmp_path, "matlab")
    for key, (psnr, ssim) in PUBLISHED.items():
        assert got[key]["metrics"]["psnr"] == pytest.approx(psnr, abs=0.03), key
        assert got[key]["metrics"]["ssim"] == pytest.approx(ssim, abs=0.002), key
