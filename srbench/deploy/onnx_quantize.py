"""int8 by onnxruntime: static quantisation (QDQ format) of the exported ONNX graph of a zoo model.

The second int8 route beside torch.ao (:mod:`srbench.deploy.quantize`): the model is exported as
``srbench export`` does (dynamic shape, checked against PyTorch), then
``onnxruntime.quantization.quantize_static`` inserts QuantizeLinear/DequantizeLinear pairs calibrated
on the same LR patches, with the recipe's calibration method (min-max, entropy or percentile), uint8
activations and int8 weights per output channel. onnxruntime's CPU kernels run the QDQ groups in
int8. The finished graph is compared with the PyTorch model on the calibration patches; below
``srbench.deploy.quantize.MIN_AGREEMENT_DB`` it is refused like a failed torch.ao quantisation.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
from collections import Counter
from pathlib import Path

import torch

from srbench.deploy.int8_recipes import Int8Recipe
from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

CALIBRATION_METHODS = {"minmax": "MinMax", "histogram": "Entropy", "percentile": "Percentile"}


@contextlib.contextmanager
def _quiet_root():
    """onnxruntime.quantization advises on the root logger ("consider pre-processing"): to the debug log."""
    def divert(record):
        if "onnxruntime" in record.pathname and record.levelno < logging.ERROR:
            log.debug("onnxruntime.quantization: %s", record.getMessage())
            return False
        return True

    root = logging.getLogger()
    root.addFilter(divert)
    try:
        yield
    finally:
        root.removeFilter(divert)


def quantize_onnx_int8(card, scale: int, calibration_inputs: list[torch.Tensor], recipe: Int8Recipe) -> tuple[bytes, dict]:
    """(the int8 QDQ graph's bytes, its recipe record) for zoo model ``card`` at ``scale``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from srbench.deploy.onnx_export import export_onnx
    from srbench.deploy.onnx_model import OnnxSR
    from srbench.deploy.quantize import MIN_AGREEMENT_DB
    from srbench.models.builder import build_model

    if not calibration_inputs:
        raise SrbenchError("int8 quantisation needs calibration inputs (LR images of a calibration set)")
    batches = [x.float().cpu().numpy() for x in calibration_inputs]

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batches)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {"lr": x}

    with tempfile.TemporaryDirectory(prefix="srbench-ort-int8-") as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export = export_onnx(card.name, scale, fp32)
        with _quiet_root():
            quantize_static(str(fp32), str(int8), _Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=recipe.per_channel, reduce_range=recipe.reduce_range,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=getattr(CalibrationMethod, CALIBRATION_METHODS[recipe.activation_observer]),
                            extra_options={"CalibPercentile": recipe.percentile} if recipe.percentile else None)
        data = int8.read_bytes()
        session = OnnxSR(int8)
        model = build_model(card, scale).float().eval()
        psnrs, worst = [], 0.0
        with torch.no_grad():
            for x in calibration_inputs:
                ref, out = model(x), session(x)
                mse = float(((out - ref).double() ** 2).mean())
                psnrs.append(math.inf if mse == 0 else -10 * math.log10(mse))
                worst = max(worst, float((out - ref).abs().max()))
        import onnx

        ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    agreement = {"psnr_db_min": round(min(psnrs), 2), "psnr_db_mean": round(sum(psnrs) / len(psnrs), 2),
                 "max_abs_diff": round(worst, 4)}
    if agreement["psnr_db_min"] < MIN_AGREEMENT_DB:
        raise SrbenchError(f"{card.name} x{scale}: the onnxruntime int8 graph agrees with the float model to only "
                           f"{agreement['psnr_db_min']:.1f} dB on the calibration inputs (< {MIN_AGREEMENT_DB} dB): "
                           "a failed quantisation, not a score")
    import onnxruntime

    return data, {
        "method": "onnxruntime.quantization.quantize_static, QDQ format, of the srbench export; no QAT",
        "onnxruntime": onnxruntime.__version__,
        "recipe": recipe.to_dict(),
        "backend": "onnxruntime",
        "calibrate_method": CALIBRATION_METHODS[recipe.activation_observer],
        "per_channel": recipe.per_channel,
        "calibration_inputs": len(calibration_inputs),
        "calibration_shapes": [list(s) for s in sorted({tuple(x.shape) for x in calibration_inputs})],
        "qdq_pairs": ops.count("QuantizeLinear"),
        "graph_ops": dict(sorted(Counter(ops).items())),
        "export": {"opset": export["opset"], "max_abs_diff": export["check"]["max_abs_diff"]},
        "agreement_with_fp32_on_calibration": agreement,
    }


__all__ = ["CALIBRATION_METHODS", "quantize_onnx_int8"]
