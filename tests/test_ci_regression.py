"""The project's own regression gate: every baseline zoo model on Set5, against the committed baseline.

The baseline (`leaderboards/baselines/ci-set5.json`) was written by `scripts/make_leaderboards.sh`
from the leaderboard runs; this re-runs the same (model, scale) pairs through the CLI and requires
`srbench check` to pass, so a change that moves any published number by more than the tolerances
(PSNR 0.01 dB, SSIM 5e-4, LPIPS 2e-3, NIQE 0.05) fails CI. It also requires the committed markdown
leaderboards to match what `srbench leaderboard` generates from the committed results.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from srbench.cli import main

REPO = Path(__file__).resolve().parent.parent

BASELINE = REPO / "leaderboards" / "baselines" / "ci-set5.json"


@pytest.fixture(scope="module")
def set5_results(datasets_root, tmp_path_factory):
    baseline = json.loads(BASELINE.read_text())
    scales = defaultdict(set)
    metrics = set()
    for e in baseline["entries"]:
        assert e["dataset"] == "set5" and e["protocol"] == "matlab@1"
        scales[e["model"]].add(e["scale"])
        metrics |= set(e["metrics"])
    out = tmp_path_factory.mktemp("ci-set5")
    for model, model_scales in sorted(scales.items()):
        rc = main(["run", "--model", model, "--set", "set5", "--scale", ",".join(map(str, sorted(model_scales))),
                   "--metrics", ",".join(sorted(metrics)), "--data-root", str(datasets_root),
                   "--out", str(out), "--format", "csv"])
        assert rc == 0, f"srbench run failed for {model}"
    return out, baseline


def test_baseline_covers_every_bicubic_benchmark_model():
    from srbench.models import get_card, list_models

    covered = {(e["model"], e["scale"]) for e in json.loads(BASELINE.read_text())["entries"]}
    expected = {(m, s) for m in list_models() if not get_card(m).same_size for s in get_card(m).scales}
    assert covered == expected


def test_zoo_on_set5_matches_committed_baseline(set5_results, capsys):
    out, baseline = set5_results
    capsys.readouterr()
    # NIQE gets 0.05: its sign counts on flat areas are decided by rounding noise, so another CPU's
    # float32 convolutions (a few SR pixels rounding the other way) can move it by a few hundredths.
    rc = main(["check", "--baseline", str(BASELINE), "--results", str(out), "--tol", "niqe=0.05"])
    report = capsys.readouterr().out
    assert rc == 0, report
    assert f"in {len(baseline['entries'])} results within tolerance" in report


def test_committed_leaderboards_are_up_to_date(capsys):
    rc = main(["leaderboard", "--results", str(REPO / "leaderboards" / "results"),
               "--out", str(REPO / "leaderboards"), "--check"])
    assert rc == 0, capsys.readouterr().out
