"""ONNX export (srbench.onnx_export, `srbench export`) and the onnxruntime runner
(srbench.models.onnx_model): every zoo model either round-trips within 1e-4 or is refused with its
reason; the file carries the card's I/O convention; the runner honours a caller's convention, checks
sizes, reports provenance, and reproduces the PyTorch IMDN x2 Set5 PSNR to 0.001 dB."""

from __future__ import annotations

import argparse
import hashlib
import json
from fractions import Fraction

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper

from srbench import __version__
from srbench.cli import main
from srbench.commands import export as export_cmd
from srbench.datasets import open_dataset
from srbench.deploy.onnx_export import TOLERANCE, demo_inputs, export_onnx
from srbench.deploy.onnx_model import OnnxSR, read_metadata
from srbench.errors import SrbenchError
from srbench.imaging.color import rgb_to_y
from srbench.imaging.imresize import imresize, round_uint8
from srbench.imaging.io import modcrop, read_image, to_rgb
from srbench.metrics.fidelity import psnr
from srbench.models.builder import build_model
from srbench.models.registry import get_card, list_models

# Why each model that cannot become an ONNX graph is refused (asserted on the message).
NOT_EXPORTABLE = {
    "bicubic": "MATLAB imresize computed in numpy",
    "falsr-a": "PIL bicubic on uint8", "falsr-b": "PIL bicubic on uint8", "falsr-c": "PIL bicubic on uint8",
}


# Models torch.export (torch 2.14.1) cannot export with dynamic height and width (measured).
FIXED_SHAPE_ONLY = {"bsrn-s"}


def _upsample_plus(path, offset: float, shape=("n", 3, "h", "w"), props: dict | None = None):
    """A hand-made SR graph, independent of srbench: y = nearest-neighbour x2 upsampling of x, + offset."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    off = helper.make_tensor("off", TensorProto.FLOAT, [], [offset])
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["up"], mode="nearest"),
             helper.make_node("Add", ["up", "off"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "up", [x], [y], [scales, off]),
                              opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def _nearest2(x: np.ndarray) -> np.ndarray:
    return x.repeat(2, axis=2).repeat(2, axis=3)


# --- the runner on hand-made graphs -------------------------------------------------------------


def test_runner_caller_convention_and_input_range(tmp_path):
    path = _upsample_plus(tmp_path / "up.onnx", 10.0)
    x = torch.rand(2, 3, 5, 7)
    unit = OnnxSR(path, colour="rgb", input_range=1, scale=2, same_size=False)
    np.testing.assert_allclose(unit(x).numpy(), _nearest2(x.numpy()) + 10.0, rtol=0, atol=1e-6)
    # input_range 255: the graph sees 255 x, the output comes back divided by 255
    wide = OnnxSR(path, colour="rgb", input_range=255, scale=2, same_size=False)
    np.testing.assert_allclose(wide(x).numpy(), _nearest2(x.numpy()) + 10.0 / 255, rtol=0, atol=1e-6)


def test_runner_reads_metadata_and_reports_provenance(tmp_path):
    props = {"srbench.colour": "rgb", "srbench.input_range": "1", "srbench.scale": "2", "srbench.same_size": "false",
             "srbench.model": "hand-made", "other.key": "ignored"}
    path = _upsample_plus(tmp_path / "up.onnx", 0.0, props=props)
    model = OnnxSR(path)
    assert (model.colour, model.input_range, model.scale, model.same_size) == ("rgb", 1, 2, False)
    assert read_metadata(path)["model"] == "hand-made" and "other.key" not in read_metadata(path)
    prov = model.provenance()
    assert prov["onnxruntime"] == ort.__version__
    assert prov["providers_active"] == ["CPUExecutionProvider"]
    assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["input"]["shape"] == ["n", 3, "h", "w"]


def test_runner_refuses_what_it_cannot_run(tmp_path):
    bare = _upsample_plus(tmp_path / "bare.onnx", 0.0)
    with pytest.raises(SrbenchError, match="pass colour="):
        OnnxSR(bare)
    with pytest.raises(SrbenchError, match="input_range must be 1"):
        OnnxSR(bare, colour="rgb", input_range=100, scale=2, same_size=False)
    wrong_scale = OnnxSR(bare, colour="rgb", input_range=1, scale=3, same_size=False)
    with pytest.raises(SrbenchError, match="expects"):
        wrong_scale(torch.rand(1, 3, 4, 4))
    with pytest.raises(SrbenchError, match="takes N x 1"):
        OnnxSR(bare, colour="y", input_range=1, scale=2, same_size=False)(torch.rand(1, 3, 4, 4))
    fixed = OnnxSR(_upsample_plus(tmp_path / "fixed.onnx", 0.0, shape=(1, 3, 8, 8)),
                   colour="rgb", input_range=1, scale=2, same_size=False)
    assert fixed(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
    with pytest.raises(SrbenchError, match="without --fixed-shape"):
        fixed(torch.rand(1, 3, 8, 12))
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(SrbenchError, match="not a readable ONNX file"):
        OnnxSR(tmp_path / "junk.onnx", colour="rgb", input_range=1, scale=2, same_size=False)


def test_runner_cuda_without_provider_is_a_clear_error(tmp_path):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(SrbenchError, match="onnxruntime-gpu"):
        OnnxSR(_upsample_plus(tmp_path / "up.onnx", 0.0), colour="rgb", input_range=1, scale=2, same_size=False,
               device="cuda")


# --- export -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NOT_EXPORTABLE))
def test_models_outside_torch_are_refused_with_the_reason(name, tmp_path):
    card = get_card(name)
    with pytest.raises(SrbenchError, match=NOT_EXPORTABLE[name]):
        export_onnx(name, card.scales[0], tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def _export_args(**kw):
    ns = {"model": None, "scale": None, "format": "onnx", "opset": 18, "fixed_shape": False, "out": None, "json": False}
    ns.update(kw)
    return argparse.Namespace(**ns)


def test_export_command_is_dynamic_by_default_and_prints_one_line(shared, tmp_path, capsys):
    out = tmp_path / "fsrcnn-s_x3.onnx"
    assert main(["export", "--model", "fsrcnn-s", "--scale", "3", "--format", "onnx", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and captured.out.startswith(f"wrote {out} (fsrcnn-s x3, input batchx1xheightxwidth")
    assert captured.err == ""  # the exporter's optimiser chatter goes to the debug log only
    assert [d.dim_param or d.dim_value for d in onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim] == [
        "batch", 1, "height", "width"]
    card = get_card("fsrcnn-s")
    meta = read_metadata(out)
    assert meta["model"] == "fsrcnn-s" and meta["scale"] == "3" and meta["colour"] == card.colour == "y"
    assert meta["input_range"] == "1" and meta["same_size"] == "false" and meta["srbench_version"] == __version__
    assert meta["weights_sha256"] == card.weights_for(3).sha256
    # any size: an odd one, not used by the export check, through the runner with the file's metadata
    runner = OnnxSR(out)
    x = torch.rand(2, 1, 17, 23)
    with torch.no_grad():
        ref = build_model(card, 3)(x)
    assert runner(x).shape == (2, 1, 51, 69)
    assert float((runner(x) - ref).abs().max()) <= TOLERANCE


def test_fixed_shape_export_and_cli_run_of_the_exported_file(shared, tmp_path, capsys):
    fixed = tmp_path / "fixed.onnx"
    assert export_cmd.run(_export_args(model="fsrcnn-s", scale=2, fixed_shape=True, out=str(fixed))) == 0
    assert "input 1x1x48x48" in capsys.readouterr().out
    out = tmp_path / "fsrcnn-s_x2.onnx"
    assert main(["export", "--model", "fsrcnn-s", "--scale", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    common = ["--set", "set5", "--scale", "2", "--protocol", "matlab", "--data-root", str(shared / "datasets"),
              "--workers", "1", "--format", "json"]
    docs = []
    for model in (f"onnx:{out}", "fsrcnn-s"):
        assert main(["run", "--model", model, *common, "--out", str(tmp_path / "r")]) == 0
        docs.append(json.loads(capsys.readouterr().out)["results"][0])
    assert abs(docs[0]["metrics"]["psnr"] - docs[1]["metrics"]["psnr"]) < 1e-3  # the PyTorch model's number


def test_export_command_needs_a_scale_for_multiscale_models():
    with pytest.raises(SrbenchError, match="pass --scale"):
        export_cmd.run(_export_args(model="imdn"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_round_trips_or_is_refused(shared, name, tmp_path):
    card = get_card(name)
    scale = card.default_scale or card.scales[-1]
    out = tmp_path / f"{name}.onnx"
    if name in NOT_EXPORTABLE:
        with pytest.raises(SrbenchError, match=NOT_EXPORTABLE[name]):
            export_onnx(name, scale, out)
        return
    if name in FIXED_SHAPE_ONLY:  # torch.export cannot make its graph shape-generic: said, and fixed works
        with pytest.raises(SrbenchError, match="--fixed-shape"):
            export_onnx(name, scale, out)
        report = export_onnx(name, scale, out, dynamic=False)
    else:
        report = export_onnx(name, scale, out)
    assert report["check"]["max_abs_diff"] <= TOLERANCE
    meta = read_metadata(out)
    assert (meta["model"], meta["scale"], meta["colour"], meta["same_size"]) == (
        card.name, str(scale), card.colour, str(card.same_size).lower())
    # an independent check through the runner, on a demo crop the export check also used
    runner = OnnxSR(out)
    (_, x), = demo_inputs(card, scale, [(48, 48)])[:1]
    with torch.no_grad():
        ref = build_model(card, scale)(x)
    assert float((runner(x) - ref).abs().max()) <= TOLERANCE


def _set5_y_psnr(model, scale: int, root) -> float:
    """Mean Set5 Y-PSNR, canonical protocol written out here: modcrop, MATLAB-bicubic uint8 LR,
    SR rounded to uint8, float Y of MATLAB rgb2ycbcr, shave = scale."""
    values = []
    for sample in open_dataset("set5", root).samples:
        hr = modcrop(to_rgb(read_image(sample.hr_path)[0]), scale)
        lr = imresize(hr, Fraction(1, scale))
        x = torch.from_numpy(lr.astype(np.float32).transpose(2, 0, 1)[None] / 255)
        with torch.no_grad():
            sr = model(x)[0].permute(1, 2, 0).double().numpy() * 255
        b = scale
        values.append(psnr(rgb_to_y(round_uint8(sr))[b:-b, b:-b], rgb_to_y(hr)[b:-b, b:-b]))
    return float(np.mean(values))


@pytest.mark.slow
def test_onnx_imdn_x2_set5_psnr_equals_pytorch(shared, tmp_path):
    out = tmp_path / "imdn_x2.onnx"
    export_onnx("imdn", 2, out)
    torch_psnr = _set5_y_psnr(build_model(get_card("imdn"), 2), 2, shared / "datasets")
    onnx_psnr = _set5_y_psnr(OnnxSR(out), 2, shared / "datasets")
    assert abs(torch_psnr - 37.9960) < 0.005  # SPEC §2: official weights and code, canonical protocol
    assert abs(onnx_psnr - torch_psnr) < 0.001


def test_profile_times_onnx_and_torch_models_on_the_same_input_by_default(tmp_path, capsys):
    props = {"srbench.colour": "rgb", "srbench.input_range": "1", "srbench.scale": "2", "srbench.same_size": "false"}
    path = _upsample_plus(tmp_path / "up.onnx", 0.0, props=props)
    inputs = {}
    for model in (f"onnx:{path}", "imdn-rtc"):
        assert main(["profile", "--model", model, "--scale", "2", "--runtime", "--runtime-method", "ntire",
                     "--format", "json"]) == 0
        (doc,) = json.loads(capsys.readouterr().out)
        inputs[model] = doc["runtime"][0]["input"]
    assert inputs[f"onnx:{path}"] == inputs["imdn-rtc"] == "random 640x360"  # hr720 at x2: 1280/2 x 720/2
