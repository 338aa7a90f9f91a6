"""Grey images (Set14 `bridge`): the canonical protocol takes them as Y, `matlab-rgb` and `tpsr` as RGB.

Treating a grey image as RGB (R = G = B) puts Y on the 16-235 scale, Y = 16 + 219/255 g, which shrinks
every difference by 219/255 and raises that image's PSNR by exactly 20 log10(255/219) dB. The
published Set14 tables of IMDN and TPSR were computed that way: their own protocol reproduces them,
the canonical one is 0.094 dB lower (one image of 14).
"""

from __future__ import annotations

import math
import shutil

import pytest

from srbench.eval.driver import evaluate

RGB_GAIN_DB = 20 * math.log10(255 / 219)


def test_grey_as_rgb_raises_psnr_by_the_16_235_scale(tmp_path, datasets_root):
    shutil.copy(datasets_root / "Set14" / "HR" / "bridge.png", tmp_path / "bridge.png")
    as_y = evaluate("bicubic", f"folder:{tmp_path}", 2, protocol="matlab", metrics=("psnr",))
    as_rgb = evaluate("bicubic", f"folder:{tmp_path}", 2, protocol="matlab-rgb", metrics=("psnr",))
    assert as_y["images"][0]["gray"] and as_y["protocol"]["gray"] == "as-y"
    assert as_rgb["protocol"]["gray"] == "replicate"
    assert as_rgb["metrics"]["psnr"] - as_y["metrics"]["psnr"] == pytest.approx(RGB_GAIN_DB, abs=1e-9)


@pytest.mark.parametrize("model, scale, published, protocol", [
    ("imdn", 2, 33.63, "matlab-rgb"),       # IMDN paper, Set14 x2
    ("tpsr-nogan", 4, 27.95, "tpsr"),        # TPSR paper, Set14 x4
])
def test_paper_protocol_reproduces_published_set14(model, scale, published, protocol, datasets_root):
    doc = evaluate(model, "set14", scale, protocol="paper", metrics=("psnr",), data_root=datasets_root)
    assert doc["protocol"]["name"] == protocol
    # Published values have two decimals: the reproduction must round to them.
    assert doc["metrics"]["psnr"] == pytest.approx(published, abs=0.005)
