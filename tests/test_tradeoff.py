"""Trade-off metrics of the ICLR 2019 efficiency study (shared/seeds/004) and Pareto dominance as FALSR
reports it (shared/seeds/001), checked on the papers' own tables (values read from them as literals)."""

from __future__ import annotations

import argparse
import json

import pytest

from srbench.commands import pareto as pareto_cmd
from srbench.commands import tradeoff as tradeoff_cmd
from srbench.errors import SrbenchError
from srbench.report.tradeoff import (
    pareto_table,
    parse_amount,
    tradeoff_metrics,
    tradeoff_table,
)

# ICLR 2019 study, Table 1 (x2): model: (params K, Mult-Adds G, Set5, Set14, B100, Urban100 PSNR,
# published Mult-Adds saved (G) and params saved (K) per 0.01 dB); bl is the reference.
TABLE1_X2 = {
    "bl": (1006, 231.2, 37.86, 33.39, 32.06, 31.74, None, None),
    "blrn(r=2)": (464, 106.5, 37.61, 33.18, 31.90, 31.09, 0.9819, 4.27),
    "blm1": (265, 60.7, 37.45, 33.00, 31.79, 30.65, 0.7894, 3.43),
    "blrxn(r=2)": (305, 69.9, 37.45, 33.01, 31.80, 30.71, 0.7755, 3.37),
    "blrn(r=4)": (258, 59, 37.42, 32.96, 31.76, 30.66, 0.7653, 3.32),
    "blclc": (232, 52.9, 37.40, 32.94, 31.73, 30.53, 0.7278, 3.16),
    "bls2": (211, 48.4, 37.37, 32.96, 31.71, 30.49, 0.7254, 3.15),
    "bleff(r=2)": (257, 58.7, 37.33, 32.94, 31.71, 30.41, 0.6485, 2.82),
    "blm2(e=2)": (561, 128.9, 37.43, 33.08, 31.81, 30.77, 0.5219, 2.27),
    "bls1(r=2)": (188, 42.9, 37.06, 32.74, 31.52, 29.94, 0.4968, 2.16),
    "blm2(e=3)": (763, 175.4, 37.56, 33.11, 31.86, 30.93, 0.3509, 1.53),
}
# Table 2, per scale (reference bl-e first), same columns; savings printed to 4 decimals.
TABLE2 = {
    2: {"bl-e": (1006, 265.3, 37.92, 33.43, 32.09, 31.83, None, None),
        "blrn-e(r=2)[rb]": (535, 156.8, 37.75, 33.30, 32.00, 31.48, 1.4662, 6.3649),
        "blm1-e[rb]": (363, 117, 37.65, 33.19, 31.92, 31.13, 1.0746, 4.6594),
        "blm1-e[rg]": (265, 94.7, 37.59, 33.12, 31.87, 30.91, 0.9584, 4.1629),
        "blrn-e(r=2)[rg]": (464, 140.5, 37.64, 33.20, 31.93, 31.18, 0.9455, 4.1061),
        "blrn-e(r=2)[rg+u]": (370, 97.1, 37.56, 33.10, 31.86, 30.99, 0.9557, 3.6136),
        "blm1-e[rg+u]": (137, 35.4, 37.35, 32.94, 31.72, 30.45, 0.8181, 3.0925)},
    3: {"bl-e": (1080, 156.3, 34.35, 30.29, 29.06, 28.13, None, None),
        "blrn-e(r=2)[rb]": (609, 108.1, 34.19, 30.18, 29.00, 27.89, 0.8456, 8.2632),
        "blm1-e[rb]": (437, 90.5, 34.09, 30.13, 28.95, 27.69, 0.6784, 6.6289),
        "blrn-e(r=2)[rg+u]": (397, 57.6, 33.97, 30.04, 28.89, 27.50, 0.6902, 4.7762),
        "blrn-e(r=2)[rg]": (538, 100.9, 34.13, 30.14, 28.97, 27.72, 0.6368, 6.2299),
        "blm1-e[rg]": (339, 80.6, 34.08, 30.03, 28.92, 27.55, 0.6056, 5.928),
        "blm1-e[rg+u]": (146, 21.4, 33.73, 29.83, 28.78, 27.10, 0.5644, 3.9079)},
    4: {"bl-e": (1154, 135.5, 32.08, 28.58, 27.56, 26.16, None, None),
        "blrn-e(r=2)[rb]": (683, 108.3, 32.10, 28.51, 27.51, 25.95, 0.8774, 15.1935),
        "blm1-e[rb]": (511, 98.4, 31.98, 28.45, 27.47, 25.80, 0.5456, 9.4559),
        "blrn-e(r=2)[rg+u]": (424, 50, 31.84, 28.34, 27.38, 25.52, 0.6577, 5.6154),
        "blm1-e[rg]": (413, 92.8, 32.02, 28.44, 27.44, 25.67, 0.5272, 9.1481),
        "blrn-e(r=2)[rg]": (612, 104.3, 32.02, 28.47, 27.48, 25.79, 0.5032, 8.7419),
        "blm1-e[rg+u]": (156, 18.7, 31.47, 28.12, 27.26, 25.16, 0.4928, 4.211)},
}


def _check_table(table: dict, digits_ma: int, digits_p: int) -> None:
    (ref_p, ref_ma, *ref_psnr, _, _) = next(iter(table.values()))
    for name, (p, ma, s5, s14, b100, u100, ma_saved, p_saved) in list(table.items())[1:]:
        m = tradeoff_metrics(ref_psnr, ref_ma, ref_p * 1000, (s5, s14, b100, u100), ma, p * 1000)
        assert round(m["macs_saved_g_per_001db"], digits_ma) == ma_saved, name
        assert round(m["params_saved_k_per_001db"], digits_p) == p_saved, name


def test_iclr2019_table1_tradeoffs_reproduced():
    _check_table(TABLE1_X2, 4, 2)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_iclr2019_table2_tradeoffs_reproduced(scale):
    _check_table(TABLE2[scale], 4, 4)


def test_no_loss_leaves_the_metrics_undefined():
    m = tradeoff_metrics([30, 30, 30, 30], 10, 1000, [30, 30, 30.1, 30], 5, 500)
    assert m["psnr_loss_db"] < 0 and m["macs_saved_g_per_001db"] is None and m["params_saved_k_per_001db"] is None


# --- from result documents ------------------------------------------------------------------------

SETS = ("set5", "set14", "b100", "urban100")


def _doc(model, dataset, scale, psnr, macs_g, params, ssim=None, protocol="matlab", convention="hr720"):
    metrics = {"psnr": psnr} | ({"ssim": ssim} if ssim is not None else {})
    return {"model": model, "dataset": dataset, "scale": scale, "protocol": {"name": protocol, "version": "1"},
            "metrics": metrics, "complexity": {"params": params, "macs_g": macs_g, "convention": convention},
            "provenance": {"precision": "fp32"}}


def _write(tmp_path, docs):
    for i, d in enumerate(docs):
        (tmp_path / f"r{i}.json").write_text(json.dumps(d))
    return tmp_path


def test_tradeoff_table_from_results_matches_table1(tmp_path, capsys):
    names = ["bl", "blrn(r=2)", "blm1"]
    docs = [_doc(n, ds, 2, TABLE1_X2[n][2 + i], TABLE1_X2[n][1], TABLE1_X2[n][0] * 1000)
            for n in names for i, ds in enumerate(SETS)]
    docs.append(_doc("bl", "set5", 2, 99.0, 231.2, 1_006_000, protocol="vdsr"))  # another protocol never mixes in
    rows, key = tradeoff_table(docs, "bl", names[1:], 2)
    assert key.protocol == "matlab v1"
    assert [round(r["macs_saved_g_per_001db"], 4) for r in rows[1:]] == [0.9819, 0.7894]
    assert [round(r["params_saved_k_per_001db"], 2) for r in rows[1:]] == [4.27, 3.43]
    args = argparse.Namespace(reference="bl", models="blrn(r=2),blm1,absent", scale="2",
                              results=str(_write(tmp_path, docs)), protocol="matlab", format="table", precision=None)
    assert tradeoff_cmd.run(args) == 0
    out = capsys.readouterr().out
    assert "0.9819" in out and "4.2677" in out and "note (absent): no result for set5, set14, b100, urban100" in out


def test_tradeoff_needs_the_reference_on_all_four_sets():
    docs = [_doc("bl", ds, 2, 30.0, 1.0, 10) for ds in SETS[:3]]
    with pytest.raises(SrbenchError, match="urban100"):
        tradeoff_table(docs, "bl", ["x"], 2)
    docs = [_doc("bl", ds, 2, 30.0, 1.0, 10, protocol=p) for ds in SETS for p in ("matlab", "vdsr")]
    with pytest.raises(SrbenchError, match="--protocol"):
        tradeoff_table(docs, "bl", ["x"], 2)


# FALSR paper, Table I (x2; Mult-Adds for a 480x480 input): model: (Mult-Adds G, params K,
# (PSNR, SSIM) on Set5, Set14, B100, Urban100).
FALSR_TABLE1 = {
    "SRCNN": (52.7, 57, [(36.66, 0.9542), (32.42, 0.9063), (31.36, 0.8879), (29.50, 0.8946)]),
    "FSRCNN": (6.0, 12, [(37.00, 0.9558), (32.63, 0.9088), (31.53, 0.8920), (29.88, 0.9020)]),
    "VDSR": (612.6, 665, [(37.53, 0.9587), (33.03, 0.9124), (31.90, 0.8960), (30.76, 0.9140)]),
    "DRCN": (17974.3, 1774, [(37.63, 0.9588), (33.04, 0.9118), (31.85, 0.8942), (30.75, 0.9133)]),
    "LapSRN": (29.9, 813, [(37.52, 0.9590), (33.08, 0.9130), (31.80, 0.8950), (30.41, 0.9100)]),
    "DRRN": (6796.9, 297, [(37.74, 0.9591), (33.23, 0.9136), (32.05, 0.8973), (31.23, 0.9188)]),
    "CARN": (222.8, 1592, [(37.76, 0.9590), (33.52, 0.9166), (32.09, 0.8978), (31.92, 0.9256)]),
    "CARN-M": (91.2, 412, [(37.53, 0.9583), (33.26, 0.9141), (31.92, 0.8960), (31.23, 0.9194)]),
    "MoreMNAS-A": (238.6, 1039, [(37.63, 0.9584), (33.23, 0.9138), (31.95, 0.8961), (31.24, 0.9187)]),
    "AWSRN-M": (244.1, 1063, [(38.04, 0.9605), (33.66, 0.9181), (32.21, 0.9000), (32.23, 0.9294)]),
    "FALSR-A": (234.7, 1021, [(37.82, 0.9595), (33.55, 0.9168), (32.12, 0.8987), (31.93, 0.9256)]),
    "FALSR-B": (74.7, 326, [(37.61, 0.9585), (33.29, 0.9143), (31.97, 0.8967), (31.28, 0.9191)]),
    "FALSR-C": (93.7, 408, [(37.66, 0.9586), (33.26, 0.9140), (31.96, 0.8965), (31.24, 0.9187)]),
}


def _falsr_docs():
    return [_doc(m, ds, 2, psnr, ma, k * 1000, ssim=ssim, protocol="paper", convention="lr480")
            for m, (ma, k, rows) in FALSR_TABLE1.items() for ds, (psnr, ssim) in zip(SETS, rows)]


def _dominated_by(rows, dataset, model):
    return next(r["dominated_by"] for r in rows if r["dataset"] == dataset and r["model"] == model)


def test_falsr_dominance_claims():
    rows = pareto_table(_falsr_docs(), "psnr")
    for ds in SETS:
        # "FALSR-A ... dominates DRCN and MoreMNAS-A over three objectives on four datasets"
        assert "FALSR-A" in _dominated_by(rows, ds, "DRCN") and "FALSR-A" in _dominated_by(rows, ds, "MoreMNAS-A")
        # "FALSR-B dominates CARN-M ... with fewer FLOPS and a smaller number of parameters it scores
        # equally to or higher than CARN-M" (PSNR)
        assert "FALSR-B" in _dominated_by(rows, ds, "CARN-M")
        assert "FALSR-C" not in _dominated_by(rows, ds, "CARN-M")  # more Mult-Adds: "outperforms" only
    ssim = pareto_table(_falsr_docs(), "ssim", datasets=["urban100"])
    assert "FALSR-B" not in _dominated_by(ssim, "urban100", "CARN-M")  # SSIM 0.9191 < 0.9194 there
    assert "FALSR-A" in _dominated_by(ssim, "urban100", "DRCN")


def test_constraints_and_cli(tmp_path, capsys):
    rows = pareto_table(_falsr_docs(), "psnr", max_macs_g=parse_amount("100G", "G"),
                        max_params=parse_amount("500K", ""), datasets=["set5"])
    got = {r["model"]: (r["pareto_optimal"], r["dominated_by"]) for r in rows}
    assert got == {"FALSR-C": (True, []), "FALSR-B": (True, []), "CARN-M": (False, ["FALSR-B"]),
                   "FSRCNN": (True, []), "SRCNN": (False, ["FSRCNN"])}
    args = argparse.Namespace(results=str(_write(tmp_path, _falsr_docs())), metric="psnr", max_multadds="100G",
                              max_params="0.5M", models=None, sets="set5", scale="2", format="csv", precision=None)
    assert pareto_cmd.run(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("set,scale,protocol,model,PSNR") and len(lines) == 6
    assert any(line.startswith("set5,2,paper v1,CARN-M,") and line.endswith(",no,FALSR-B") for line in lines)


def test_parse_amount():
    assert parse_amount("10G", "G") == 10 and parse_amount("500M", "G") == 0.5 and parse_amount("12", "G") == 12
    assert parse_amount("500K", "") == 500_000 and parse_amount("1.2M", "") == 1_200_000
    with pytest.raises(SrbenchError):
        parse_amount("ten", "G")


def test_mixed_conventions_never_compared():
    docs = [_doc("a", "set5", 2, 30, 1, 1), _doc("b", "set5", 2, 31, 2, 2, convention="lr480")]
    with pytest.raises(SrbenchError, match="conventions"):
        pareto_table(docs)


def test_precisions_and_int8_recipes_are_never_ranked_together(tmp_path, capsys):
    from srbench.cli import main
    from srbench.report.precision import select_precision

    fp32 = [_doc("a", "set5", 2, 38.0, 10, 1000), _doc("b", "set5", 2, 37.0, 5, 500)]
    int8 = []
    for recipe, psnr in (("x86-hist-8bit", 37.5), ("x86-hist-7bit", 36.0)):
        d = _doc("a", "set5", 2, psnr, 10, 1000)
        d["provenance"] = {"precision": "int8", "quantization": {"backend": "x86", "recipe": {"name": recipe}}}
        d["identity"] = {"model": {"kind": "int8"}}
        int8.append(d)
    docs = fp32 + int8
    groups = {(r["precision"], r["model"]): r["pareto_optimal"] for r in pareto_table(docs)}
    # fp32 "b" is not dominated by the int8 "a" results: they are other rankings
    assert groups == {("fp32", "a"): True, ("fp32", "b"): True, ("int8 x86-hist-8bit", "a"): True,
                      ("int8 x86-hist-7bit", "a"): True}
    assert select_precision(docs, "fp32") == fp32 and select_precision(docs, "int8") == int8
    assert select_precision(docs, "int8 x86-hist-7bit") == int8[1:]
    _write(tmp_path, docs)
    assert main(["pareto", "--results", str(tmp_path), "--precision", "int8 x86-hist-8bit", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "37.5" in out and "38.0" not in out and "36.0" not in out
    assert main(["pareto", "--results", str(tmp_path), "--precision", "fp64"]) == 2
    assert "unknown precision" in capsys.readouterr().err
