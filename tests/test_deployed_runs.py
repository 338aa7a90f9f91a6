"""int8 and ONNX models through the engine and the CLI: identity, determinism, deltas to fp32."""

from __future__ import annotations

import json

import pytest

from srbench.cli import main
from srbench.deploy.int8_recipes import RECIPES, default_recipe
from srbench.store.results import loads


def _doc(capsys, *args) -> dict:
    assert main(["run", *args, "--format", "json", "--workers", "1"]) == 0
    return loads(capsys.readouterr().out)["results"][0]


def _values(doc):
    return {i["name"]: (i["psnr"], i["ssim"]) for i in doc["images"]}


def test_int8_runs_are_deterministic_recorded_and_kept_apart(capsys, datasets_root, tmp_path):
    args = ["--model", "fsrcnn-s", "--set", "set5", "--scale", "2", "--data-root", str(datasets_root)]
    fp32 = _doc(capsys, *args, "--out", str(tmp_path / "r"))
    first = _doc(capsys, *args, "--precision", "int8", "--out", str(tmp_path / "r"))
    again = _doc(capsys, *args, "--precision", "int8", "--out", str(tmp_path / "again"))
    assert _values(first) == _values(again)  # two quantisations, one number
    assert first["identity"]["model"]["kind"] == "int8" and first["identity_key"] != fp32["identity_key"]
    cal = first["identity"]["model"]["calibration"]
    assert cal["set"] == "demo" and len(cal["images"]) == 5 and (cal["patch"], cal["patches"]) == (32, 64)
    recipe = first["provenance"]["quantization"]
    default = RECIPES[default_recipe()]
    assert first["identity"]["model"]["recipe"] == recipe["recipe"] == default.to_dict()
    assert recipe["backend"] == default.backend and recipe["int8_layers"]
    assert recipe["calibration_inputs"] == 4 and recipe["calibration_shapes"] == [[16, 1, 32, 32]]  # 64 patches
    assert first["metrics"]["psnr"] < fp32["metrics"]["psnr"]  # post-training int8 costs PSNR
    assert main(["leaderboard", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "lb"), "--no-plots"]) == 0
    md = (tmp_path / "lb" / "matlab_x2.md").read_text()
    delta = first["metrics"]["psnr"] - fp32["metrics"]["psnr"]
    assert "## int8" in md and f"{delta:+.2f}" in md.split("## int8")[1]
    ranked, int8_section = md.split("## int8")
    assert f"{fp32['metrics']['psnr']:.2f}" in ranked and f"{first['metrics']['psnr']:.2f}" not in ranked  # not ranked
    assert f"{first['metrics']['psnr']:.2f}" in int8_section


def test_int8_needs_a_calibration_set_other_than_the_evaluated_one(capsys, tmp_path):
    rc = main(["run", "--model", "fsrcnn-s", "--set", "demo", "--scale", "2", "--precision", "int8",
               "--out", str(tmp_path)])
    assert rc == 2 and "must not be the evaluated set" in capsys.readouterr().err
    rc = main(["run", "--model", "bicubic", "--set", "demo", "--scale", "2", "--calibration-set", "set5",
               "--out", str(tmp_path)])
    assert rc == 2 and "go with --precision int8" in capsys.readouterr().err


def test_precision_and_backend_are_shown_in_every_output(capsys, datasets_root, tmp_path):
    args = ["run", "--model", "fsrcnn-s", "--set", "set5", "--scale", "3", "--limit", "1", "--data-root",
            str(datasets_root), "--out", str(tmp_path), "--workers", "1", "--precision", "int8"]
    assert main([*args, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    csv_out = captured.out.splitlines()
    header, row = csv_out[0].split(","), dict(zip(csv_out[0].split(","), csv_out[1].split(",")))
    assert "precision" in header and "backend" in header
    assert row["precision"] == f"int8 {default_recipe()}" and row["backend"] == f"torch.ao {RECIPES[default_recipe()].backend}"
    summary = [line for line in captured.err.splitlines() if "psnr" in line]  # the stderr summary line
    assert summary and f"int8 {default_recipe()}, torch.ao" in summary[-1]
    assert main([*args, "--format", "markdown"]) == 0
    assert f"int8 {default_recipe()}" in capsys.readouterr().out


@pytest.mark.slow
def test_int8_imdn_default_recipe_end_to_end(capsys, datasets_root, tmp_path):
    args = ["--model", "imdn", "--set", "set5", "--scale", "2", "--data-root", str(datasets_root), "--out", str(tmp_path)]
    fp32 = _doc(capsys, *args)
    int8 = _doc(capsys, *args, "--precision", "int8")
    assert abs(fp32["metrics"]["psnr"] - 37.996) < 0.005  # SPEC: official weights, canonical protocol
    # Target 0.3 dB (issue 21) not reached by post-training 8-bit per-tensor activations; measured with the
    # default recipe: 0.94 dB (x86-hist-8bit; docs/deploy.md). The old 7-bit recipe lost 1.73 dB.
    assert 0 < fp32["metrics"]["psnr"] - int8["metrics"]["psnr"] < 1.0
    assert any("pow" in op or "sub" in op for op in json.dumps(int8["provenance"]["quantization"]["float_ops"]).split(","))


@pytest.mark.slow
def test_exported_onnx_imdn_gives_the_pytorch_psnr(capsys, datasets_root, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime (optional extra srbench[onnx]) is not installed")
    assert main(["export", "--model", "imdn", "--scale", "2", "--format", "onnx",  # dynamic shape by default
                 "--out", str(tmp_path / "imdn_x2.onnx")]) == 0
    capsys.readouterr()
    args = ["--set", "set5", "--scale", "2", "--data-root", str(datasets_root), "--out", str(tmp_path / "r")]
    torch_doc = _doc(capsys, "--model", "imdn", *args)
    onnx_doc = _doc(capsys, "--model", f"onnx:{tmp_path / 'imdn_x2.onnx'}", *args)
    assert abs(onnx_doc["metrics"]["psnr"] - torch_doc["metrics"]["psnr"]) < 0.001
    assert onnx_doc["identity"]["model"]["kind"] == "onnx" and onnx_doc["model"] == "imdn_x2.onnx"
    assert onnx_doc["provenance"]["weights"]["runtime"] == "onnxruntime"


def test_onnxruntime_int8_route_through_the_pipeline(capsys, datasets_root, tmp_path):
    pytest.importorskip("onnxruntime")
    args = ["--model", "fsrcnn-s", "--set", "set5", "--scale", "2", "--limit", "2", "--data-root", str(datasets_root),
            "--out", str(tmp_path)]
    fp32 = _doc(capsys, *args)
    ort = _doc(capsys, *args, "--precision", "int8", "--backend", "onnxruntime")
    torch_ao = _doc(capsys, *args, "--precision", "int8")
    quant = ort["provenance"]["quantization"]
    assert quant["backend"] == "onnxruntime" and quant["recipe"]["name"] == "ort-qdq-minmax" and quant["qdq_pairs"] > 0
    assert ort["identity"]["model"]["recipe"]["backend"] == "onnxruntime"
    assert len({ort["identity_key"], torch_ao["identity_key"], fp32["identity_key"]}) == 3
    # both int8 routes below fp32, neither far from it (FSRCNN-s is sensitive: measured 4.1 dB for
    # onnxruntime min-max on these two images; docs/deploy.md)
    for doc in (ort, torch_ao):
        assert 0 < fp32["metrics"]["psnr"] - doc["metrics"]["psnr"] < 5, doc["provenance"]["quantization"]["recipe"]
    rc = main(["run", *args, "--precision", "int8", "--backend", "onnxruntime", "--int8-recipe", "x86-hist-8bit"])
    assert rc == 2 and "is not a onnxruntime recipe" in capsys.readouterr().err
    rc = main(["run", *args, "--backend", "onnxruntime"])
    assert rc == 2 and "go with --precision int8" in capsys.readouterr().err
