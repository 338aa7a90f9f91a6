"""Leaderboard generation (--check staleness) and the regression gate (check/baseline)."""

import json

import pytest

from srbench.cli import main


@pytest.fixture(scope="module")
def bicubic_results(tmp_path_factory, datasets_root):
    out = tmp_path_factory.mktemp("results")
    assert main(["run", "--model", "bicubic", "--set", "set5,set14", "--scale", "2,4", "--data-root", str(datasets_root),
                 "--out", str(out), "--format", "json", "--workers", "1"]) == 0
    assert main(["run", "--model", "bicubic", "--set", "set5", "--scale", "2", "--protocol", "vdsr",
                 "--data-root", str(datasets_root), "--out", str(out), "--format", "json", "--workers", "1"]) == 0
    return out


def _copy_with_drift(src, dst, model_file, delta_db, image=None):
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.json"):
        doc = json.loads(f.read_text())
        if f.name.startswith(model_file + "__"):
            if image is None:
                doc["metrics"]["psnr"] += delta_db
            for im in doc["images"]:
                if image is None or im["name"] == image:
                    im["psnr"] += delta_db
        (dst / f.name).write_text(json.dumps(doc))


def test_gate_passes_identical_and_fails_injected_regression(bicubic_results, tmp_path, capsys):
    base = tmp_path / "baseline.json"
    assert main(["baseline", "--results", str(bicubic_results), "--out", str(base)]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(base), "--results", str(bicubic_results)]) == 0
    assert "PASS" in capsys.readouterr().out

    _copy_with_drift(bicubic_results, tmp_path / "worse", "bicubic__set5__x2__matlab", -0.05)
    assert main(["check", "--baseline", str(base), "--results", str(tmp_path / "worse")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "bicubic" in out and "set5" in out and "-0.0500" in out and "FAIL" in out
    assert "(set mean)" in out and "baby.png" in out  # set mean and per-image rows


def test_gate_catches_a_single_image_and_respects_tolerance(bicubic_results, tmp_path, capsys):
    base = tmp_path / "baseline.json"
    main(["baseline", "--results", str(bicubic_results), "--out", str(base)])
    _copy_with_drift(bicubic_results, tmp_path / "one", "bicubic__set14__x4__matlab", -0.3, image="zebra.png")
    assert main(["check", "--baseline", str(base), "--results", str(tmp_path / "one")]) == 1
    assert "zebra" in capsys.readouterr().out
    assert main(["check", "--baseline", str(base), "--results", str(tmp_path / "one"), "--tol", "psnr=0.5"]) == 0


def test_gate_reports_missing_results_and_bad_input(bicubic_results, tmp_path, capsys):
    base = tmp_path / "baseline.json"
    main(["baseline", "--results", str(bicubic_results), "--out", str(base)])
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "a.json").write_text(next(bicubic_results.glob("bicubic__set5__x2__matlab__*.json")).read_text())
    capsys.readouterr()
    assert main(["check", "--baseline", str(base), "--results", str(partial)]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["check", "--baseline", str(tmp_path / "nope.json"), "--results", str(partial)]) == 2
    (tmp_path / "junk.json").write_text("{not json")
    assert main(["check", "--baseline", str(tmp_path / "junk.json"), "--results", str(partial)]) == 2
    assert main(["check", "--baseline", str(base), "--results", str(partial), "--tol", "psnr"]) == 2


def test_leaderboard_writes_tables_per_protocol_and_check_detects_staleness(bicubic_results, tmp_path, capsys):
    out = tmp_path / "lb"
    assert main(["leaderboard", "--results", str(bicubic_results), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.glob("*.md"))
    assert names == ["README.md", "matlab_x2.md", "matlab_x4.md", "vdsr_x2.md"]  # protocols never share a table
    x2 = (out / "matlab_x2.md").read_text()
    assert "Set5 PSNR ↑ / SSIM ↑" in x2 and "## Set14" in x2 and "**" in x2 and "Protocol **matlab** v1" in x2
    assert "33.66† (+0.02)" in x2  # published bicubic PSNR (VDSR protocol) beside ours, marked as another protocol
    assert all(line.count("|") <= 11 for line in x2.splitlines())  # no table wider than 10 columns
    assert (out / "plots" / "matlab_x2_set5_psnr_vs_multadds.png").stat().st_size > 1000
    assert (out / "plots" / "matlab_x2_set5_psnr_vs_multadds.svg").exists()
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(bicubic_results), "--out", str(out), "--check"]) == 0
    (out / "matlab_x4.md").write_text(x2.replace("33.6", "33.7"))
    assert main(["leaderboard", "--results", str(bicubic_results), "--out", str(out), "--check"]) == 1
    assert "matlab_x4.md" in capsys.readouterr().out


def test_pareto_front():
    from srbench.report.plots import pareto_front

    pts = [(1.0, 30.0), (2.0, 31.0), (3.0, 30.5), (4.0, 32.0), (0.5, 29.0)]
    assert pareto_front(pts, higher_is_better=True) == [4, 0, 1, 3]
    assert pareto_front([(1.0, 0.3), (2.0, 0.2), (3.0, 0.25)], higher_is_better=False) == [0, 1]


def test_paper_protocol_differences_count_grey_handling_only_on_sets_with_grey_images():
    from srbench.protocol.protocols import get_protocol, settings_that_differ

    doc = {"protocol": get_protocol("matlab").to_dict(), "n_images": 2,
           "images": [{"name": "a", "gray": False}, {"name": "b", "gray": False}]}
    assert settings_that_differ({"protocol": "matlab"}, doc) is None
    assert settings_that_differ({"protocol": "matlab-rgb"}, doc) is None  # the same numbers here
    doc["images"][1]["gray"] = True
    assert settings_that_differ({"protocol": "matlab-rgb"}, doc) == ["gray"]
    assert set(settings_that_differ({"protocol": "falsr"}, doc)) == {"sr_rounding", "y_rounding", "gray", "shave"}


def test_missing_counts_come_from_the_zoo_only_for_that_cards_own_result():
    import copy
    from pathlib import Path

    from srbench.cost.complexity import card_complexity
    from srbench.models.references import catalog
    from srbench.models.registry import get_card
    from srbench.report.tables import with_counts
    from srbench.store.results import read_json

    results = Path(__file__).resolve().parent.parent / "leaderboards" / "results"
    doc = read_json(next(results.glob("rfdn__set5__x4__matlab__*.json")))
    assert doc["complexity"] is None  # made while counting RFDN failed
    zoo = catalog()
    filled = with_counts(doc, zoo)["complexity"]
    assert filled["params"] == card_complexity(get_card("rfdn"), 4)["params"] == 433_448
    impostor = copy.deepcopy(doc)  # a user's module evaluated with --label rfdn
    impostor["identity"]["model"] = {"kind": "module", "class": "mine.Net", "builder": "", "fingerprint": "0" * 64}
    assert with_counts(impostor, zoo)["complexity"] is None
    variant = copy.deepcopy(doc)  # a card file named rfdn with another architecture
    variant["identity"]["model"]["arch"] = {"nf": 64, "num_modules": 4}
    assert with_counts(variant, zoo)["complexity"] is None
