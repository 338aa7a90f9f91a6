"""Every count works for every zoo model at every scale and convention (issue: RFDN/RLFN/BSRN-S ESA
blocks reject the small counting probes), and a size-dependent user module is counted or refused in
one line, never with a traceback."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import torch
from torch import nn

from srbench.cli import main
from srbench.cost.complexity import (
    CONVENTIONS,
    NTIRE_CONVENTIONS,
    build_for_counting,
    count_ops,
)
from srbench.errors import SrbenchError
from srbench.models.registry import get_card, list_models

pytest.importorskip("fvcore")  # ntire2024 counts FLOPs with fvcore


def _profile(capsys, model: str, scale: int, convention: str) -> dict:
    capsys.readouterr()
    args = ["profile", "--model", model, "--scale", str(scale), "--convention", convention, "--format", "json"]
    if convention not in NTIRE_CONVENTIONS:
        args.append("--activations")
    assert main(args) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    return doc


def _zoo():
    return [(m, s) for m in list_models() for s in get_card(m).profile_scales]


@pytest.mark.slow
@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_every_zoo_model_scale_and_convention_profiles(capsys, convention):
    for model, scale in _zoo():
        card = get_card(model)
        doc = _profile(capsys, model, scale, convention)
        net = build_for_counting(card, scale)
        params = sum(p.numel() for p in net.parameters())  # independent: every registered parameter
        assert doc["params"] >= params if convention in NTIRE_CONVENTIONS else doc["params"] == params, model
        if model == "bicubic":
            continue
        if convention in NTIRE_CONVENTIONS:
            assert doc["flops"] > 0 and doc["activations"] > 0 and doc["convs"] > 0, (model, scale)
        else:
            assert doc["macs"] > 0 and doc["flops_true"] > 0, (model, scale)  # (FSRCNN's deconv: flops < 2 macs)
            assert doc["activations"] > 0 and doc["convs"] > 0, (model, scale)


@pytest.mark.parametrize("model", ["rfdn", "rlfn", "bsrn-s"])
def test_esa_models_profile_under_every_convention(capsys, model):
    card = get_card(model)
    report_params = card.complexity["ntire2022"]["params"]  # the NTIRE 2022 report, millions, 3 decimals
    for convention in CONVENTIONS:
        doc = _profile(capsys, model, 4, convention)
        independent = sum(p.numel() for p in build_for_counting(card, 4).parameters())
        assert doc["params"] == independent
        assert round(doc["params"] / 1e6, 3) == report_params
        if convention == "hr720":
            assert doc["input"] == "320x180" and "counted directly on a 320x180 input" in doc["notes"]
            assert 1 < doc["macs_g"] < 60
        if convention == "ntire2022":  # the report's FLOPs row (2 decimals) from the challenge's own hooks
            assert round(doc["flops_g"], 2) == card.complexity["ntire2022"]["flops_g"] or model == "bsrn-s"


class _Pool7(nn.Module):
    """An ESA-like block: stride-2 conv without padding, then a 7x7 / stride-3 max-pool."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 4, 3, stride=2)
        self.head = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        att = torch.nn.functional.max_pool2d(self.down(x), 7, stride=3)
        att = torch.nn.functional.interpolate(att[:, :3], size=x.shape[-2:])
        return self.head(x) * torch.sigmoid(att)


def _pool7_macs(h: int, w: int) -> int:
    """Independent count: 3x3x3x3 per output pixel of head, 3x3x3x4 per pixel of the strided conv."""
    dh, dw = (h - 3) // 2 + 1, (w - 3) // 2 + 1
    return 81 * h * w + 108 * dh * dw


def test_size_dependent_user_module_is_counted_at_the_size():
    ops = count_ops(_Pool7(), 180, 320)  # even sizes: the strided conv's floor is linear, the fit holds
    assert ops["macs"] == _pool7_macs(180, 320) and ops["counted_at"] is None
    ops = count_ops(_Pool7(), 181, 321)  # odd: the fit from even probes would be off; counted directly
    assert ops["macs"] == _pool7_macs(181, 321) and ops["counted_at"] == (181, 321)


def test_module_rejecting_the_probes_is_counted_at_the_floored_size():
    class Pool40(_Pool7):  # a 40x40 pool after the stride-2 conv rejects every probe up to 64 px
        def forward(self, x):
            att = torch.nn.functional.max_pool2d(self.down(x), 40, stride=3)
            return self.head(x) * torch.sigmoid(att.mean())

    ops = count_ops(Pool40(), Fraction(720, 3), Fraction(1280, 3))  # fractional: floored (modcrop)
    assert ops["macs"] == _pool7_macs(240, 426) and ops["counted_at"] == (240, 426)


def test_module_too_small_for_its_input_is_refused_in_one_line():
    with pytest.raises(SrbenchError) as e:
        count_ops(_Pool7(), 10, 10)
    assert "does not run on a 10x10 input" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="the warning is about a missing CUDA runtime")
def test_cpu_runtime_prints_no_cuda_warning():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "srbench.cli", "profile", "--model", "fsrcnn", "--scale", "4",
                           "--runtime", "--input", "32x32"], capture_output=True, text=True, cwd=repo, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "clean" in proc.stdout and "CUDA" not in proc.stderr, proc.stderr
