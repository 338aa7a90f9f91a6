"""Precision labels (srbench.precision): an ONNX graph quantised outside srbench is labelled int8 even
when run with the default --precision fp32, so it is never ranked with fp32 results."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper

from srbench.protocol.pipeline import IOConvention
from srbench.report.precision import backend_of, precision_label, precision_of
from srbench.sources.source import OnnxSource


def _graph(path, qdq: bool):
    """x -> [QuantizeLinear -> DequantizeLinear] -> nearest x2 upsampling."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2]),
             helper.make_tensor("s", TensorProto.FLOAT, [], [1 / 255]),
             helper.make_tensor("z", TensorProto.UINT8, [], [0])]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"])] if qdq else []
    nodes.append(helper.make_node("Resize", ["d" if qdq else "x", "", "scales"], ["y"], mode="nearest"))
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize("qdq,label", [(True, "int8 onnx-file"), (False, "fp32")])
def test_an_int8_onnx_file_is_labelled_int8(tmp_path, qdq, label):
    source = OnnxSource("m", IOConvention(), None, path=_graph(tmp_path / "m.onnx", qdq))
    weights = source.weights(2)
    assert weights["int8_ops"] == (2 if qdq else 0)
    doc = {"provenance": {"precision": "fp32", "weights": weights}, "identity": {"model": source.identity()}}
    assert precision_label(doc) == label and precision_of(doc) == label.split()[0]
    assert backend_of(doc) == "onnxruntime"
