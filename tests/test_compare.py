"""Paired significance (srbench.compare / `srbench compare`), per-image analysis (`srbench worst`) and the
leaderboard's tie marks, checked against independent computations (plain loops, scipy, sorts)."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import srbench
from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.store.results import dumps, loads, read_json

RESULTS = Path(__file__).resolve().parent.parent / "leaderboards" / "results"
URBAN_NTIRE = RESULTS / "imdn-ntire__urban100__x4__matlab__68bce2ab51.json"
URBAN_IMDN = RESULTS / "imdn__urban100__x4__matlab__e267d8f277.json"


def _committed(path: Path) -> dict:
    assert path.is_file(), f"{path.name} is not in leaderboards/results (regenerated under another identity?)"
    return read_json(path)


def _doc(model: str, values: dict[str, list[float]], names: list[str] | None = None, **identity) -> dict:
    """A minimal result document holding per-image values (same protocol, set and scale unless overridden)."""
    n = len(next(iter(values.values())))
    names = names or [f"img_{i:03d}.png" for i in range(n)]
    protocol = {"name": "matlab", "version": "1", "shave": "scale", "gray": "as-y"}
    ident = {"dataset": {"name": "set5", "fingerprint": "f" * 64, "n_images": n}, "scale": 4, "limit": None,
             "precision": "fp32", "protocol": protocol, "metrics": {m: {} for m in values}}
    for k, v in identity.items():
        ident[k] = v
    return {"model": model, "dataset": ident["dataset"]["name"], "scale": ident["scale"], "protocol": ident["protocol"],
            "metrics": {m: float(np.mean(v)) for m, v in values.items()}, "n_images": n,
            "images": [{"name": nm, **{m: float(v[i]) for m, v in values.items()}} for i, nm in enumerate(names)],
            "identity": ident, "provenance": {"precision": ident["precision"]}}


# ---------------------------------------------------------------------------------------------
# statistics against independent computations


def test_bootstrap_ci_equals_a_plain_loop_with_the_same_seed():
    a, b = _committed(URBAN_NTIRE), _committed(URBAN_IMDN)
    comp = srbench.compare(a, b, ["psnr"], n_resamples=10_000, seed=7)
    m = comp.metric("psnr")
    names = sorted(i["name"] for i in a["images"])
    va = {i["name"]: i["psnr"] for i in a["images"]}
    vb = {i["name"]: i["psnr"] for i in b["images"]}
    d = np.array([va[n] - vb[n] for n in names])
    rng = np.random.default_rng(7)
    means = []
    for _ in range(10_000):  # one resample at a time, as a textbook writes it
        idx = rng.integers(0, len(d), len(d))
        means.append(d[idx].mean())
    lo, hi = np.percentile(means, [2.5, 97.5])
    assert m.ci_low == pytest.approx(lo, abs=1e-12) and m.ci_high == pytest.approx(hi, abs=1e-12)
    # the mean difference is the difference of the set means the result files state
    assert m.diff == pytest.approx(a["metrics"]["psnr"] - b["metrics"]["psnr"], abs=1e-12)
    assert m.n == 100 and m.wins + m.ties + m.losses == 100
    assert m.wins == sum(x >= 0.005 for x in d) and m.losses == sum(x <= -0.005 for x in d)
    # scipy's own bootstrap (another random stream) agrees within Monte Carlo error
    ref = stats.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile", rng=np.random.default_rng(1))
    assert m.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.006)
    assert m.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.006)


@pytest.mark.parametrize("a, b", [
    ([30.1, 29.5, 31.2, 28.7, 30.0, 29.9, 31.5, 27.2], [30.0, 29.7, 30.9, 28.1, 30.2, 29.0, 31.4, 26.9]),
    ([25.0, 26.0, 27.0, 28.0, 29.0, 30.0], [24.0, 25.5, 27.0, 27.0, 28.5, 31.0]),  # a zero and ties in |d|
    (list(np.linspace(20, 30, 60)), list(np.linspace(20, 30, 60) - np.sin(np.arange(60)))),  # normal approximation
])
def test_wilcoxon_p_equals_scipy_on_hand_made_pairs(a, b):
    m = srbench.compare(_doc("a", {"psnr": a}), _doc("b", {"psnr": b})).metric("psnr")
    assert m.p_value == pytest.approx(stats.wilcoxon(np.array(a) - np.array(b)).pvalue, rel=1e-12)
    assert m.diff == pytest.approx(np.mean(a) - np.mean(b), abs=1e-12)


def test_identical_results_compare_cleanly():
    doc = _doc("a", {"psnr": [30.0, 31.0, 29.0, 28.5, 33.0], "lpips": [0.1, 0.2, 0.3, 0.2, 0.1]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero warning from the all-zero differences
        comp = srbench.compare(doc, copy.deepcopy(doc))
    for m in comp.metrics:
        assert (m.p_value, m.ci_low, m.ci_high, m.diff) == (1.0, 0.0, 0.0, 0.0)
        assert (m.wins, m.ties, m.losses, m.significant, m.better) == (0, 5, 0, False, None)
        assert comp.verdict(m.metric) == "no significant difference"


def test_verdict_respects_the_metric_direction():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.1, 0.4, 40)
    a = _doc("a", {"psnr": list(30 + rng.normal(0, 1, 40)), "lpips": list(base)})
    b = _doc("b", {"psnr": [i["psnr"] - 0.3 - 0.05 * rng.random() for i in a["images"]], "lpips": list(base + 0.02)})
    comp = srbench.compare(a, b)
    assert comp.metric("psnr").better == "a" and comp.verdict("psnr") == "a better"  # higher PSNR
    assert comp.metric("lpips").better == "a" and comp.metric("lpips").diff == pytest.approx(-0.02)  # lower LPIPS
    assert comp.metric("lpips").wins == 40
    assert srbench.compare(b, a).metric("lpips").better == "b"


def test_the_api_function_survives_importing_its_module():
    import srbench.report.significance  # importing the module behind an API function leaves the function

    assert callable(srbench.compare) and callable(srbench.compare)


# ---------------------------------------------------------------------------------------------
# refusals


@pytest.mark.parametrize("change, message", [
    (lambda d: d["identity"]["protocol"].update(shave="0"), "protocols differ"),
    (lambda d: d["identity"]["dataset"].update(fingerprint="e" * 64), "set fingerprint"),
    (lambda d: d["identity"].update(precision="int8"), "precision differs"),
    (lambda d: d["identity"].update(limit=3), "limit differs"),
    (lambda d: d["identity"].update(scale=2), "scale differs"),
    (lambda d: d["images"][0].update(name="other.png"), "image sets differ"),
    (lambda d: d["identity"]["metrics"].update(psnr={"variant": "x"}), "settings differ"),
])
def test_mixed_identities_are_refused(change, message):
    a = _doc("a", {"psnr": [30.0, 31.0, 29.0, 28.0, 27.0]})
    b = copy.deepcopy(a)
    b["model"] = "b"
    change(b)
    with pytest.raises(SrbenchError, match=message) as exc:
        srbench.compare(a, b)
    assert "\n" not in str(exc.value)


def test_committed_results_of_other_precision_or_protocol_are_refused(capsys):
    fp32 = _committed(URBAN_IMDN)
    int8 = next(RESULTS.glob("imdn__urban100__x4__matlab__int8__*.json"))  # its name follows the int8 recipe
    for other, message in ((int8, "precision differs"),
                           (RESULTS / "imdn__urban100__x4__matlab-rgb__fcd9449192.json", "protocols differ")):
        with pytest.raises(SrbenchError, match=message):
            srbench.compare(_committed(other), fp32)
        assert main(["compare", str(other), str(URBAN_IMDN)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_json_equals_the_api(capsys):
    _committed(URBAN_NTIRE)
    assert main(["compare", "imdn-ntire", "imdn", "--results", str(RESULTS), "--set", "urban100", "--scale", "4",
                 "--protocol", "matlab", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)["comparisons"]
    api = srbench.compare(URBAN_NTIRE, URBAN_IMDN)
    assert out == [loads(dumps(api.to_dict()))]
    assert {m["verdict"] for m in out[0]["metrics"] if m["metric"] == "psnr"} == {"imdn-ntire better"}


def test_cli_table_prints_the_api_numbers_at_their_precision(capsys):
    _committed(URBAN_NTIRE)
    assert main(["compare", str(URBAN_NTIRE), str(URBAN_IMDN), "--metrics", "psnr"]) == 0
    out = capsys.readouterr().out
    m = srbench.compare(URBAN_NTIRE, URBAN_IMDN, ["psnr"]).metric("psnr")
    row = next(line for line in out.splitlines() if "PSNR" in line and "urban100" in line)
    assert f"{m.mean_a:.2f}" in row and f"{m.diff:+.3f}" in row and f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]" in row
    assert f"{m.wins}/{m.ties}/{m.losses}" in row and "10,000 resamples, seed 0" in out


@pytest.mark.parametrize("args, message", [
    (["nosuch", "imdn"], "no results"),
    (["imdn", "imdn-ntire", "--protocol", "matlab", "--metrics", "foo"], "not in both results"),
    (["imdn", "imdn-ntire", "--protocol", "matlab", "--resamples", "0"], "must be positive"),
    (["imdn", "imdn-ntire", "--set", "urban100", "--scale", "4"], "2 results"),  # matlab and matlab-rgb
])
def test_cli_bad_input_exit_2_one_line(capsys, args, message):
    _committed(URBAN_IMDN)
    assert main(["compare", *args, "--results", str(RESULTS)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# worst


def test_worst_ranking_equals_an_independent_sort():
    from srbench.report.worst import worst

    a, b = _committed(URBAN_IMDN), _committed(URBAN_NTIRE)
    report = worst(a, b, "psnr", 10)
    va = {i["name"]: i for i in a["images"]}
    vb = {i["name"]: i for i in b["images"]}
    expected = sorted(va, key=lambda n: vb[n]["psnr"] - va[n]["psnr"], reverse=True)[:10]
    assert [r.name for r in report.images] == expected
    top = report.images[0]
    assert top.loss == pytest.approx(vb[top.name]["psnr"] - va[top.name]["psnr"])
    for r in report.images:  # NIQE (lower better) vs PSNR (higher better) disagree when both deltas have one sign
        dn = va[r.name]["niqe"] - vb[r.name]["niqe"]
        dp = va[r.name]["psnr"] - vb[r.name]["psnr"]
        assert ("NIQE/PSNR" in r.disagree) == (dn * dp > 0)
    # alone, by LPIPS (lower is better): the highest LPIPS first
    alone = worst(a, None, "lpips", 5)
    assert [r.name for r in alone.images] == sorted(va, key=lambda n: -va[n]["lpips"])[:5]


def test_worst_cli_json_equals_the_library(capsys):
    from srbench.report.worst import worst

    _committed(URBAN_IMDN)
    assert main(["worst", "--model", str(URBAN_IMDN), "--reference", str(URBAN_NTIRE), "--set", "urban100",
                 "--scale", "4", "-k", "4", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == loads(dumps(worst(URBAN_IMDN, URBAN_NTIRE, "psnr", 4).to_dict()))


def test_max_difference_box_equals_brute_force():
    from srbench.report.worst import max_difference_box

    diff = np.random.default_rng(5).random((23, 31))
    for size in (1, 4, 7, 40):
        h, w = min(size, 23), min(size, 31)
        sums = {(x, y): diff[y:y + h, x:x + w].sum() for y in range(23 - h + 1) for x in range(31 - w + 1)}
        x, y = max(sums, key=sums.get)
        assert max_difference_box(diff, size) == (x, y, w, h)


# ---------------------------------------------------------------------------------------------
# leaderboard tie marks


def _table_docs(base: dict, models: dict[str, np.ndarray]) -> list[tuple[Path, dict]]:
    out = []
    for model, psnr in models.items():
        d = copy.deepcopy(base)
        d["model"] = model
        d["identity"]["model"] = {"kind": "card", "name": model}
        for img, v in zip(d["images"], psnr):
            img["psnr"] = float(v)
        d["metrics"] = {"psnr": float(np.mean(psnr))}
        d["identity"]["metrics"] = {"psnr": base["identity"]["metrics"]["psnr"]}
        out.append((Path(f"{model}.json"), d))
    return out


def test_tie_marks_on_a_difference_of_a_thousandth_of_a_db():
    from srbench.report.leaderboard import TIE_MARK, set_table
    from srbench.report.tables import group

    set5 = _committed(RESULTS / "imdn__set5__x4__matlab__401115bb04.json")
    urban = _committed(URBAN_IMDN)
    best5 = np.array([i["psnr"] for i in set5["images"]])
    best100 = np.array([i["psnr"] for i in urban["images"]])
    noise = np.random.default_rng(0).normal(0, 0.3, 100)
    noise -= noise.mean()  # the set means differ by exactly the stated offsets
    files = (_table_docs(set5, {"imdn": best5, "carn-m": best5 - 0.001})  # 0.001 dB on 5 images
             + _table_docs(urban, {"imdn": best100, "carn-m": best100 - 0.001 + noise,  # 0.001 dB in noise
                                   "fsrcnn": best100 - 0.5 + noise}))  # clearly worse
    table = next(t for t in group(files) if t.precision == "fp32")

    def cell(dataset, model):
        row = next(r for r in set_table(table, dataset).splitlines() if f"(`{model}`)" in r)
        return row.split("|")[2].strip()

    # independent decisions: CI (plain loop) includes 0 or Wilcoxon p >= 0.05
    def tied(best, other):
        d = best - other
        rng = np.random.default_rng(0)
        means = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(10_000)]
        lo, hi = np.percentile(means, [2.5, 97.5])
        return lo <= 0 <= hi or stats.wilcoxon(d).pvalue >= 0.05

    assert tied(best5, best5 - 0.001) and cell("set5", "carn-m").endswith(TIE_MARK)
    assert cell("set5", "imdn").startswith("**")
    assert tied(best100, best100 - 0.001 + noise) and cell("urban100", "carn-m").endswith(TIE_MARK)
    assert not tied(best100, best100 - 0.5 + noise) and not cell("urban100", "fsrcnn").endswith(TIE_MARK)


@pytest.mark.parametrize("args, message", [
    (["-k", "0"], "-k must be at least 1"),
    (["--set", "urban100,set5"], "--set takes one set"),
    (["--metric", "foo"], "not in both results"),
    (["--reference", "nosuch"], "no results"),
])
def test_worst_bad_input_exit_2_one_line(capsys, args, message):
    _committed(URBAN_IMDN)
    base = {"--set": "urban100", "--scale": "4", "--protocol": "matlab"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    argv = ["worst", "--model", "imdn", "--results", str(RESULTS)] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_worst_grid_draws_the_crop_where_the_error_maps_differ_most(datasets_root, tmp_path, capsys):
    _committed(RESULTS / "fsrcnn__set5__x4__matlab__1a8812d7a8.json")
    out = tmp_path / "grid.png"
    assert main(["worst", "--model", "fsrcnn-s", "--reference", "fsrcnn", "--set", "set5", "--scale", "4",
                 "--protocol", "matlab", "--results", str(RESULTS), "-k", "2", "--metrics", "psnr",
                 "--grid", str(out), "--grid-images", "1", "--data-root", str(datasets_root)]) == 0
    from PIL import Image

    assert out.is_file() and Image.open(out).size[0] > 400
    assert "differs from the result" not in capsys.readouterr().err  # the re-run SR is the ranked one


def test_cli_names_the_sets_b_lacks_and_compares_the_rest(capsys):
    _committed(URBAN_IMDN)
    assert main(["compare", "imdn", "imdn-ntire", "--protocol", "matlab", "--metrics", "psnr",
                 "--results", str(RESULTS), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    rows = captured.out.strip().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["b100", "set14", "set5", "urban100"]  # x4: all B has
    assert "not compared" in captured.err and "set5 x2" in captured.err and "urban100 x3" in captured.err


@pytest.mark.parametrize("command, option", [("compare", "--resamples"), ("worst", "--grid")])
def test_help_lists_the_options(capsys, command, option):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and option in capsys.readouterr().out


def test_run_missing_evaluates_b_like_a_and_compares(datasets_root, tmp_path, capsys):
    from srbench.store.results import load_result_files

    a = srbench.evaluate("bicubic", "set5", 4, metrics=("psnr", "ssim"), data_root=datasets_root, out_dir=tmp_path)
    assert main(["compare", "bicubic", "fsrcnn-s", "--results", str(tmp_path), "--set", "set5", "--scale", "4"]) == 2
    assert "--run-missing runs B" in capsys.readouterr().err  # without --run-missing nothing is run
    assert main(["compare", "bicubic", "fsrcnn-s", "--results", str(tmp_path), "--run-missing",
                 "--data-root", str(datasets_root), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)["comparisons"]
    (path_b, b), = [(p, d) for p, d in load_result_files(tmp_path) if d["model"] == "fsrcnn-s"]
    assert b["identity"]["protocol"] == a["identity"]["protocol"] and set(b["metrics"]) == {"psnr", "ssim"}
    assert out == [loads(dumps(srbench.compare(a, path_b).to_dict()))]
