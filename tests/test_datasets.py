"""Dataset layouts, shipped/generated LR, manifests and bad input (one-line errors, exit code 2)."""

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from srbench.datasets import open_dataset
from srbench.errors import SrbenchError
from srbench.eval.driver import evaluate
from srbench.imaging.imresize import imresize
from srbench.imaging.io import modcrop, read_image


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _photo(shared, name="baby", crop=(96, 120)):
    img, _ = read_image(shared / "datasets" / "Set5" / "HR" / f"{name}.png")
    return img[: crop[0], : crop[1]]


def test_manifests_match_shared_sets(datasets_root):
    for name, n in (("set5", 5), ("set14", 14), ("b100", 100), ("urban100", 100)):
        ds = open_dataset(name, datasets_root)
        assert len(ds.samples) == n
        assert ds.verify()["verified"], name


def test_edsr_benchmark_layout_with_shipped_lr(tmp_path, shared):
    hr = _photo(shared)
    _png(tmp_path / "benchmark" / "Set5" / "HR" / "baby.png", hr)
    lr = imresize(hr, Fraction(1, 2))
    lr[0, 0] = (lr[0, 0].astype(int) + 40) % 256  # mark it: srbench must use this file, not regenerate
    _png(tmp_path / "benchmark" / "Set5" / "LR_bicubic" / "X2" / "babyx2.png", lr)
    ds = open_dataset("set5", tmp_path)
    assert ds.layout.startswith("EDSR") and ds.samples[0].lr_paths[2].name == "babyx2.png"
    shipped = evaluate("bicubic", "set5", 2, protocol="matlab", data_root=tmp_path, allow_incomplete=True)
    assert shipped["provenance"]["dataset"]["lr"]["shipped"] == 1
    (tmp_path / "benchmark" / "Set5" / "LR_bicubic" / "X2" / "babyx2.png").unlink()
    generated = evaluate("bicubic", "set5", 2, protocol="matlab", data_root=tmp_path, allow_incomplete=True)
    assert generated["provenance"]["dataset"]["lr"]["generated"] == 1
    assert generated["metrics"]["psnr"] != shipped["metrics"]["psnr"]
    # The vdsr protocol never uses shipped LR (it keeps the LR in double).
    (tmp_path / "benchmark" / "Set5" / "LR_bicubic" / "X2" / "babyx2.png").parent.mkdir(exist_ok=True)
    _png(tmp_path / "benchmark" / "Set5" / "LR_bicubic" / "X2" / "babyx2.png", lr)
    assert evaluate("bicubic", "set5", 2, protocol="vdsr", data_root=tmp_path, allow_incomplete=True)["provenance"]["dataset"]["lr"]["shipped"] == 0


def test_div2k_layout_keeps_validation_split(tmp_path, shared):
    hr = _photo(shared)
    for name in ("0800", "0801", "0802"):
        _png(tmp_path / "DIV2K" / "DIV2K_valid_HR" / f"{name}.png", hr)
    _png(tmp_path / "DIV2K" / "DIV2K_valid_LR_bicubic" / "X4" / "0801x4.png", imresize(modcrop(hr, 4), Fraction(1, 4)))
    ds = open_dataset("div2k", tmp_path)
    assert [s.stem for s in ds.samples] == ["0801", "0802"]
    assert 4 in ds.samples[0].lr_paths and 4 not in ds.samples[1].lr_paths
    res = evaluate("bicubic", "div2k", 4, data_root=tmp_path, allow_incomplete=True)
    assert res["n_images"] == 2 and res["provenance"]["dataset"]["lr"] == {"shipped": 1, "generated": 1, "cached": 0}


def test_folder_dataset_odd_sizes_and_gray(tmp_path, shared):
    rgb = _photo(shared, crop=(97, 121))  # not divisible by 2, 3 or 4: modcrop
    _png(tmp_path / "imgs" / "a.png", rgb)
    _png(tmp_path / "imgs" / "g.png", rgb[..., 1].copy())  # single-channel
    res = evaluate("bicubic", f"folder:{tmp_path / 'imgs'}", 3, data_root=None)
    assert [i["gray"] for i in res["images"]] == [False, True]
    assert all(np.isfinite(i["psnr"]) and i["psnr"] > 20 for i in res["images"])
    assert res["protocol"]["gray"] == "as-y"


def test_gray_image_as_y_equals_single_channel_computation(tmp_path, shared):
    # MATLAB scripts use a grey image directly as its Y: PSNR must equal the one-channel computation.
    g = _photo(shared, crop=(96, 120))[..., 0].copy()
    _png(tmp_path / "g" / "g.png", g)
    res = evaluate("bicubic", f"folder:{tmp_path / 'g'}", 2, protocol="vdsr")
    sr = np.floor(np.clip(imresize(imresize(g.astype(np.float64), Fraction(1, 2)), 2), 0, 255) + 0.5)
    mse = np.mean((sr[2:-2, 2:-2] - g[2:-2, 2:-2].astype(np.float64)) ** 2)
    assert res["images"][0]["psnr"] == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)


@pytest.mark.parametrize("make, match", [
    (lambda root: None, "not found"),
    (lambda root: (root / "Set5" / "HR").mkdir(parents=True), "no images"),
    (lambda root: ((root / "Set5" / "HR").mkdir(parents=True), (root / "Set5" / "HR" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")), "cannot read image"),
])
def test_bad_dataset_inputs_give_one_line_errors(tmp_path, make, match):
    make(tmp_path)
    with pytest.raises(SrbenchError, match=match) as err:
        evaluate("bicubic", "set5", 2, data_root=tmp_path, allow_incomplete=True)
    assert "\n" not in str(err.value)


def test_truncated_png_is_reported(tmp_path, shared):
    src = (shared / "datasets" / "Set5" / "HR" / "bird.png").read_bytes()
    (tmp_path / "Set5" / "HR").mkdir(parents=True)
    (tmp_path / "Set5" / "HR" / "bird.png").write_bytes(src[: len(src) // 2])
    with pytest.raises(SrbenchError, match="bird.png: cannot read image"):
        evaluate("bicubic", "set5", 2, data_root=tmp_path, allow_incomplete=True)


def test_lr_size_mismatch_is_reported(tmp_path, shared):
    hr = _photo(shared)
    _png(tmp_path / "Set5" / "HR" / "baby.png", hr)
    _png(tmp_path / "Set5" / "LR_bicubic" / "X2" / "baby.png", imresize(hr, Fraction(1, 3)))
    with pytest.raises(SrbenchError, match="LR is .* but the HR"):
        evaluate("bicubic", "set5", 2, data_root=tmp_path, allow_incomplete=True)
