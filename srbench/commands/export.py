"""``srbench export``: a zoo model as an ONNX file, checked against PyTorch with onnxruntime.

Prints one line (``--json`` for the whole report); the graph takes any input size unless
``--fixed-shape``.

The file carries the model's I/O convention (colour, input range, scale, same_size, model name,
srbench version, weights sha256) in its metadata_props; ``srbench.deploy.onnx_model`` reads it back.
"""

from __future__ import annotations

import argparse
import json

FORMATS = ("onnx",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from srbench.deploy.onnx_export import DEFAULT_OPSET, EXAMPLE_LR

    p.add_argument("--model", required=True, help="zoo model name (srbench list models)")
    p.add_argument("--scale", type=int, help="scale (default: the model's only or default scale)")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (onnx)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--fixed-shape", action="store_true",
                   help=f"a graph for exactly 1 x C x {EXAMPLE_LR[0]} x {EXAMPLE_LR[1]} inputs (default: any batch, "
                        "height and width)")
    p.add_argument("--out", help="output file (default <model>_x<scale>.onnx)")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")


def run(args) -> int:
    from srbench.deploy.onnx_export import export_onnx
    from srbench.eval.plan import resolve_scale
    from srbench.models.registry import get_card

    card = get_card(args.model)
    report = export_onnx(card.name, resolve_scale(card, args.scale), args.out, opset=args.opset,
                         dynamic=not args.fixed_shape)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    check = report["check"]
    shape = "x".join(str(d) for d in report["input_shape"])
    print(f"wrote {report['path']} ({report['model']} x{report['scale']}, input {shape}, opset {report['opset']}, "
          f"sha256 {report['sha256'][:12]}; onnxruntime matches PyTorch to {check['max_abs_diff']:.1e} "
          f"on {len(check['inputs'])} demo crops)")
    return 0
