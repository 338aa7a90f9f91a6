"""``srbench export``: a zoo model as an ONNX file, checked against PyTorch with onnxruntime.

The file carries the model's I/O convention (colour, input range, scale, same_size, model name,
srbench version, weights sha256) in its metadata_props; ``srbench.models.onnx_model`` reads it back.
"""

from __future__ import annotations

import argparse
import json

FORMATS = ("onnx",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..onnx_export import DEFAULT_OPSET, EXAMPLE_LR

    p.add_argument("--model", required=True, help="zoo model name (srbench list models)")
    p.add_argument("--scale", type=int, help="scale (default: the model's only or default scale)")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (onnx)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--dynamic", action="store_true",
                   help=f"any batch, height and width (default: a fixed 1 x C x {EXAMPLE_LR[0]} x {EXAMPLE_LR[1]} input)")
    p.add_argument("--out", help="output file (default <model>_x<scale>.onnx)")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")


def run(args) -> int:
    from ..engine import resolve_scale
    from ..models import get_card
    from ..onnx_export import export_onnx

    card = get_card(args.model)
    report = export_onnx(card.name, resolve_scale(card, args.scale), args.out, opset=args.opset, dynamic=args.dynamic)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    check = report["check"]
    print(f"wrote {report['path']} ({report['bytes']:,} bytes, sha256 {report['sha256'][:16]}…)")
    print(f"model {report['model']} x{report['scale']}, opset {report['opset']}, input {report['input_shape']} -> "
          f"output {report['output_shape']}")
    print(f"max |onnxruntime - PyTorch| = {check['max_abs_diff']:.2e} on {len(check['inputs'])} demo LR crops "
          f"(tolerance {check['tolerance']:g}, [0, 1] units; {check['runtime']})")
    print("metadata: " + ", ".join(f"{k.removeprefix('srbench.')}={v}" for k, v in report["metadata"].items()
                                   if k.removeprefix("srbench.") in ("colour", "input_range", "scale", "same_size")))
    return 0
