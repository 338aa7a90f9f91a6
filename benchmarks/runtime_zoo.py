"""Runtime table of the zoo on this machine (report-only: nothing here is asserted).

Each model is timed at x4 (x2 where it has no x4) on one random LR input, by both methods of
srbench/runtime.py (``ntire``: the challenges' test_demo.py timing; ``clean``: warm-up, median and
IQR), with randomly initialised weights (the timing does not depend on the values).

Run: PYTHONPATH=. .venv/bin/python benchmarks/runtime_zoo.py [--input 128x128] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse

import torch

from srbench.cost.complexity import build_for_counting
from srbench.cost.profile import parse_size
from srbench.cost.runtime import cpu_peak_memory, time_set, timing_environment
from srbench.models.registry import get_card, list_models
from srbench.report.formatting import render
from srbench.sources.inference import model_dtype


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default="128x128", help="LR input WxH (default 128x128, small enough for a CPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--models", help="comma-separated subset (default: the whole zoo)")
    p.add_argument("--min-run-time", type=float, default=0.5, help="clean: seconds of timed runs per input")
    args = p.parse_args()
    h, w = parse_size(args.input)
    names = args.models.split(",") if args.models else list_models()
    rows = []
    for name in names:
        card = get_card(name)
        scale = 4 if 4 in card.scales else card.scales[0]
        model = build_for_counting(card, scale)
        x = torch.rand(1, 1 if card.colour == "y" else 3, h, w).to(model_dtype(model, "fp32"))
        ntire = time_set(model, [x], args.device, "ntire", args.threads)
        clean = time_set(model, [x], args.device, "clean", args.threads, min_run_time=args.min_run_time)
        peak = ntire["peak_memory_mib"] if args.device != "cpu" else cpu_peak_memory(model, [x])[0]
        rows.append({"model": name, "scale": f"x{scale}", "ntire ms": f"{ntire['ms']:.2f}",
                     "clean median ms": f"{clean['ms']:.2f}", "clean IQR ms": f"{clean['iqr_ms']:.2f}",
                     "peak memory MiB": "-" if peak is None else f"{peak:.1f}"})
        print(f"{name} x{scale}: ntire {ntire['ms']:.2f} ms, clean {clean['ms']:.2f} ms", flush=True)
    print()
    print(render(rows, "markdown"))
    env = timing_environment(torch.device(args.device), args.threads)
    print(f"\ninput {w}x{h}; {env['device_name']} ({env['device']}), {env['threads']} threads, torch {env['torch']}, "
          f"CUDA {env['cuda']}, cuDNN {env['cudnn']}; peak memory: "
          + ("CUDA max_memory_allocated (ntire)" if args.device != "cpu" else "CPU peak resident-memory increase"))


if __name__ == "__main__":
    main()
