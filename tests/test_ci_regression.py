"""The project's own regression gate: every baseline zoo model on Set5, against the committed baseline.

The baseline (`leaderboards/baselines/ci-set5.json`) is written by `srbench sweep leaderboards/plan.toml`
from the leaderboard runs; this re-runs the same (model, scale) pairs through one `srbench sweep` and
requires `srbench check` to pass, so a change that moves any published number by more than the
tolerances (PSNR 0.01 dB, SSIM 5e-4, LPIPS 2e-3, NIQE 0.05) fails CI. It also requires the committed
results to be exactly what the plan produces, and the committed markdown leaderboards to match what
`srbench leaderboard` generates from them.
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
    work = tmp_path_factory.mktemp("ci-set5")
    runs = "".join(f'[[runs]]\nmodels = ["{m}"]\nsets = ["set5"]\nscales = {sorted(s)}\nprotocols = ["matlab"]\n'
                   f'metrics = {sorted(metrics)}\n'.replace("'", '"') for m, s in sorted(scales.items()))
    (work / "plan.toml").write_text(f'out = "results"\ndata_root = "{datasets_root}"\n{runs}')
    assert main(["sweep", str(work / "plan.toml")]) == 0  # one pool of workers for every model
    return work / "results", baseline


def test_baseline_covers_every_bicubic_benchmark_model():
    from srbench.models.registry import get_card, list_models

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


def test_committed_results_are_what_the_plan_produces(datasets_root):
    from srbench.eval.sweep import expand, read_plan
    from srbench.store.results import load_results

    planned = {p.key: p.stem for p in expand(read_plan(REPO / "leaderboards" / "plan.toml"), datasets_root)}
    committed = {d["identity_key"] for d in load_results(REPO / "leaderboards" / "results")}
    assert set(planned) == committed, sorted(planned[k] for k in set(planned) - committed)[:5]


def test_committed_leaderboards_are_up_to_date(capsys):
    rc = main(["leaderboard", "--results", str(REPO / "leaderboards" / "results"),
               "--out", str(REPO / "leaderboards"), "--check"])
    assert rc == 0, capsys.readouterr().out


def test_committed_leaderboards_are_readable_and_complete():
    lb = REPO / "leaderboards"
    for f in lb.glob("*.md"):
        for line in f.read_text().splitlines():
            if line.startswith("|"):
                assert line.count("|") - 1 <= 10, f"{f.name}: a table wider than 10 columns"
    tpsr = (lb / "tpsr_x4.md").read_text()
    for s in ("## Set5", "## Set14", "## B100", "## Urban100"):
        assert s in tpsr
    # TPSR supplement Table 1, TPSR-NOGAN x4 on B100 and Urban100: published PSNR / SSIM beside ours
    assert "27.15 (" in tpsr and "0.7214 (" in tpsr and "24.97 (" in tpsr and "0.7456 (" in tpsr
    canonical = (lb / "matlab_x4.md").read_text()
    for model in ("imdn-ntire", "rfdn", "rlfn", "bsrn-s"):
        assert canonical.split("## Set5")[1].split("## Efficiency")[0].count(f"(`{model}`)") == 4  # on all four sets
    assert "## int8" in (lb / "matlab_x2.md").read_text()
