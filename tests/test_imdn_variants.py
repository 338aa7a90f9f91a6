"""IMDN variants of the NAS master thesis (shared/seeds/002, Imamoglu 2021) through
``srbench profile --arch``, and architecture-only scales (TPSR-NOGAN x2: profiled, never evaluated).

The expected parameter counts are the thesis's own tables (x4 models), read as literals.
"""

from __future__ import annotations

import json

import pytest

from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.models.builder import build_model
from srbench.models.imdn import IMDN
from srbench.models.registry import get_card

# (--arch overrides, parameter count, where the thesis prints it)
THESIS = [
    ("num_modules=8", 931_408, "Tables 4.4/4.5, Vanilla, depth 8"),
    ("num_modules=10", 1_147_640, "Tables 4.4/4.5, Vanilla, depth 10"),
    ("last_stage=split,stages=3,distillation_rate=1/3", 637_848, "Table 4.3, 3x3, 3 stages, rate '0.3'"),
    ("last_stage=split,distillation_rate=0.125", 908_028, "Table 4.3, 3x3, 4 stages, rate 0.125"),
    ("last_stage=split", 839_880, "Table 4.3, 3x3, 4 stages, rate 0.25 (second row)"),
]


def _profile_json(capsys, *argv) -> list[dict]:
    assert main(["profile", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("arch,params,where", THESIS, ids=[t[2] for t in THESIS])
def test_thesis_parameter_counts(arch, params, where, capsys):
    doc = _profile_json(capsys, "--model", "imdn", "--scale", "4", "--arch", arch)[0]
    assert doc["params"] == params
    assert doc["params_published"] is None and doc["macs_published_g"] is None  # a variant: no published figures
    assert doc["model"].startswith("imdn[") and arch.split("=")[0] in doc["model"]


def test_rate_point_three_is_not_the_thesis_three_stage_block(capsys):
    # int(64 * 0.3) = 19 distilled channels; the thesis's 637,848 needs int(64 / 3) = 21.
    doc = _profile_json(capsys, "--model", "imdn", "--scale", "4", "--arch", "last_stage=split,stages=3,distillation_rate=0.3")[0]
    assert doc["params"] != 637_848


def test_kernel_size_5_builds_and_scales_the_refinement_convs(capsys):
    doc = _profile_json(capsys, "--model", "imdn", "--scale", "4", "--arch", "kernel_size=5")[0]
    # 3x3 kernel weights of one official block: c1 64->64, c2/c3 48->64, c4 48->16; 6 blocks; 3x3 -> 5x5.
    block_3x3 = 9 * (64 * 64 + 2 * 48 * 64 + 48 * 16)
    assert doc["params"] == 715_176 + 6 * block_3x3 * (25 - 9) // 9


def test_released_models_unchanged_and_kair_layout_defaults():
    assert sum(p.numel() for p in IMDN(upscale=4).parameters()) == 715_176
    assert sum(p.numel() for p in IMDN(nf=64, num_modules=8).parameters()) == 931_408  # KAIR nc=64, nb=8, x4


def test_bad_arch_is_one_line(capsys):
    assert main(["profile", "--model", "imdn", "--arch", "stagez=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "stagez" in err and len(err.splitlines()) == 1
    assert main(["profile", "--model", "tpsr-nogan", "--arch", "nf=32"]) == 2  # TPSR's builder declares no keys
    assert "--arch" in capsys.readouterr().err
    assert main(["profile", "--model", "imdn", "--arch", "stages"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_tpsr_x2_is_architecture_only(capsys):
    card = get_card("tpsr-nogan")
    assert card.arch_only_scales == (2,) and card.scales == (4,)
    docs = _profile_json(capsys, "--model", "tpsr-nogan")  # default: every scale the architecture exists for
    assert [(d["scale"], d["params"]) for d in docs] == [(4, 61_097), (2, 60_761)]  # SPEC §3
    assert abs(docs[1]["macs_g"] - 13.95) < 0.01 and docs[1]["macs_published_g"] == 13.95  # SPEC §4
    assert "architecture-only" in docs[1]["notes"]
    with pytest.raises(SrbenchError, match="architecture-only"):
        build_model(card, 2)
    assert main(["run", "--model", "tpsr-nogan", "--scale", "2", "--set", "set5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "architecture-only" in err and len(err.splitlines()) == 1
