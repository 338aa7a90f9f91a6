"""``srbench profile``: parameters and Mult-Adds (or the NTIRE challenges' figures) under a named
convention, published figures beside, weight bytes per precision; optionally runtime and peak memory.

Counted on the randomly initialised module (no weights needed, so architecture-only scales and
``--arch`` variants work). See ``srbench/cost/complexity.py``, ``srbench/cost/ntire.py``,
``srbench/cost/mults_adds.py`` and ``srbench/cost/runtime.py``.
"""

from __future__ import annotations

import argparse

from srbench.commands._common import add_format, parse_scales, split_list
from srbench.cost.profile import (
    activations,
    onnx_profile,
    parse_arch,
    parse_size,
    runtime,
)
from srbench.errors import SrbenchError
from srbench.report.formatting import render


def add_arguments(p: argparse.ArgumentParser) -> None:
    from srbench.cost.complexity import CONVENTIONS

    p.add_argument("--model", required=True, help="model name(s), comma-separated (srbench list models)")
    p.add_argument("--scale", help="scale(s), e.g. 2,3,4 (default: every scale the model's architecture exists for)")
    p.add_argument("--convention", default="hr720", choices=tuple(CONVENTIONS),
                   help="hr720: HR output 1280x720 (default); lr480: 480x480 LR input; ntire2022 / ntire2024: "
                        "the NTIRE efficient-SR challenges' counters on a 256x256 LR input")
    p.add_argument("--arch", help="architecture overrides key=value,... (e.g. num_modules=8,distillation_rate=1/3); "
                                  "the variant is profiled without weights")
    p.add_argument("--mults-adds", action="store_true", help="also count multiplications and additions separately")
    p.add_argument("--activations", action="store_true",
                   help="also count activations and #conv as the NTIRE challenges do (output elements of every "
                        "Conv2d/ConvTranspose2d call) at the convention's input size (the ntire conventions "
                        "always report them)")
    p.add_argument("--runtime", action="store_true", help="time the forward pass")
    p.add_argument("--memory", action="store_true", help="peak memory of the forward pass (CPU: resident-memory "
                                                         "increase; CUDA: always reported with --runtime)")
    p.add_argument("--runtime-method", default="both", choices=("both", "ntire", "clean"),
                   help="ntire: the challenges' test_demo.py timing; clean: warm-up, median and IQR (default both)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N) for --runtime/--memory")
    p.add_argument("--threads", type=int, help="CPU threads while timing (default: torch's setting)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--input", help="time on a random WxH LR input (default: the convention's input size)")
    group.add_argument("--set", dest="dataset", help="time on the LR images of a set (HR modcropped, MATLAB bicubic)")
    p.add_argument("--limit", type=int, help="with --set: only the first N images")
    p.add_argument("--data-root", help="folder holding the sets (default: $SRBENCH_DATA, else $SRBENCH_HOME/datasets)")
    add_format(p)


def _g(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _n(v) -> str:
    return "-" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def _pub(d: dict, key: str, paper_key: str) -> str:
    s = _n(d[key])  # as published, no reformatting
    return s + (f"; paper {d[paper_key]}" if d.get(paper_key) is not None else "")


def _mb(v: int) -> str:
    return f"{v / 1e6:.3g}" if v >= 1e5 else f"{v / 1e6:.2g}"


def _bytes_cell(wb: dict) -> str:
    return " / ".join(_mb(wb[k]) for k in ("fp32", "fp16", "int8"))


def _macs_rows(docs, conv, raw):
    cols = ["model", "scale", f"input ({conv})", "params", "params published", f"Mult-Adds {conv} (G)",
            "published (G)", f"true FLOPs {conv} (G)", "weights fp32/fp16/int8 (MB)"]
    rows = [{
        cols[0]: d["model"], cols[1]: d["scale"], cols[2]: d["input"] + (" x1ch" if d["input_channels"] == 1 else ""),
        cols[3]: d["params"] if raw else _n(d["params"]),
        cols[4]: d["params_published"] if raw else _pub(d, "params_published", "params_paper"),
        cols[5]: d["macs_g"] if raw else _g(d["macs_g"]),
        cols[6]: d["macs_published_g"] if raw else _pub(d, "macs_published_g", "macs_paper_g"),
        cols[7]: d["flops_true_g"] if raw else _g(d["flops_true_g"]),
        cols[8]: _bytes_cell(d["weight_bytes"]),
    } for d in docs]
    return cols, rows


def _ntire_rows(docs, conv, raw):
    cols = ["model", "scale", "input", "params", "FLOPs (G)", "#Acts (M)", "#Conv",
            "published params (M) / FLOPs (G) / Acts (M) / #Conv", "weights fp32/fp16/int8 (MB)"]
    rows = []
    for d in docs:
        pub = d["published"] or {}
        published = " / ".join(_n(pub.get(k)) for k in ("params", "flops_g", "activations_m", "conv")) if pub else "-"
        rows.append({
            cols[0]: d["model"], cols[1]: d["scale"], cols[2]: d["input"] + (" x1ch" if d["input_channels"] == 1 else ""),
            cols[3]: d["params"] if raw else _n(d["params"]),
            cols[4]: d["flops_g"] if raw else f"{d['flops_g']:.4f}",
            cols[5]: d["activations_m"] if raw else f"{d['activations_m']:.4f}",
            cols[6]: d["convs"], cols[7]: published, cols[8]: _bytes_cell(d["weight_bytes"]),
        })
    return cols, rows


def _runtime_rows(docs, raw):
    cols = ["model", "scale", "method", "input", "device", "threads", "ms / image", "IQR (ms)", "peak memory (MiB)"]
    rows = []
    for d in docs:
        for r in d.get("runtime", []):
            rows.append({
                cols[0]: d["model"], cols[1]: d["scale"], cols[2]: r["method"], cols[3]: r["input"],
                cols[4]: r["environment"]["device"], cols[5]: r["environment"]["threads"],
                cols[6]: r["ms"] if raw else f"{r['ms']:.2f}",
                cols[7]: r["iqr_ms"] if raw else _g(r["iqr_ms"]),
                cols[8]: r["peak_memory_mib"] if raw else _g(r["peak_memory_mib"]),
            })
    return cols, rows


def _run_onnx(names: list[str], args) -> int:
    scales = parse_scales(args.scale)
    if len(scales) != 1:
        raise SrbenchError("an ONNX model is profiled at one --scale (its own)")
    if args.runtime or args.memory:
        from srbench.sources.inference import resolve_device

        args.device = str(resolve_device(args.device))
    docs = [onnx_profile(n, scales[0], convention=args.convention, device=args.device, timed=args.runtime, memory=args.memory,
                         method=args.runtime_method, threads=args.threads, dataset=args.dataset,
                         data_root=args.data_root, limit=args.limit, input_size_text=args.input) for n in names]
    if args.format == "json":
        print(render([], "json", json_doc=docs))
        return 0
    raw = args.format == "csv"
    rows = [{"model": d["model"], "scale": d["scale"], "params": d["params"] if raw else _n(d["params"]),
             "weights fp32/fp16/int8 (MB)": " / ".join(_mb(d["weight_bytes"][k]) for k in ("fp32", "fp16", "int8"))}
            for d in docs]
    print(render(rows, args.format))
    if any("runtime" in d for d in docs):
        print()
        cols, rt_rows = _runtime_rows(docs, raw)
        print(render(rt_rows, args.format, columns=cols))
        if args.format == "table":
            _print_runtime_notes(docs)
    if args.format == "table":
        for d in docs:
            p = d["provenance"]
            print(f"note ({d['model']}): {d['notes']}; onnxruntime {p['onnxruntime']}, {', '.join(p['providers_active'])}")
    return 0


def run(args) -> int:
    from srbench.cost.complexity import (
        CONVENTIONS,
        FLOPS_RULE,
        MACS_RULE,
        NTIRE_CONVENTIONS,
        profile,
    )
    from srbench.models.builder import with_arch
    from srbench.models.registry import get_card

    names = split_list(args.model, "--model")
    onnx_names = [n for n in names if n.lower().startswith("onnx:")]
    if onnx_names:
        if len(onnx_names) != len(names) or args.arch:
            raise SrbenchError("profile ONNX models (onnx:PATH) apart from zoo models, without --arch")
        return _run_onnx(onnx_names, args)
    overrides = parse_arch(args.arch)
    cards = [with_arch(get_card(m), overrides) for m in names]
    scales = parse_scales(args.scale)
    if args.limit is not None and (args.limit < 1 or not args.dataset):
        raise SrbenchError("--limit N needs --set and N >= 1")
    if args.threads is not None and args.threads < 1:
        raise SrbenchError("--threads must be 1 or more")
    if (args.input or args.dataset) and not (args.runtime or args.memory):
        raise SrbenchError("--input/--set choose the images to time: add --runtime or --memory")
    if args.runtime or args.memory:
        from srbench.sources.inference import resolve_device

        args.device = str(resolve_device(args.device))
        if args.input:
            parse_size(args.input)
    plan = []
    for card in cards:  # validate everything before counting anything
        for s in scales or card.profile_scales:
            card.check_scale(s, arch_only_ok=True)
            plan.append((card, s))
    conv = args.convention
    docs = []
    for card, s in plan:
        doc = profile(card, s, conv, mults_adds=args.mults_adds)
        if args.activations and conv not in NTIRE_CONVENTIONS:
            doc.update(activations(card, s, conv, doc["input_channels"]))
        if args.runtime or args.memory:
            doc["runtime"] = runtime(card, s, doc, convention=conv, device=args.device, method=args.runtime_method,
                                     threads=args.threads, dataset=args.dataset, data_root=args.data_root,
                                     limit=args.limit, input_size_text=args.input, memory=args.memory)
        docs.append(doc)

    if args.format == "json":
        print(render([], "json", json_doc=docs))
        return 0
    raw = args.format == "csv"
    cols, rows = (_ntire_rows if conv in NTIRE_CONVENTIONS else _macs_rows)(docs, conv, raw)
    if args.activations and conv not in NTIRE_CONVENTIONS:
        cols += ["#Acts (M)", "#Conv"]
        for row, d in zip(rows, docs):
            row.update({"#Acts (M)": d["activations_m"] if raw else f"{d['activations_m']:.2f}", "#Conv": d["convs"]})
    if args.mults_adds:
        cols += ["mults (G)", "adds (G)"]
        for row, d in zip(rows, docs):
            row.update({"mults (G)": d["mults_g"] if raw else f"{d['mults_g']:.4f}",
                        "adds (G)": d["adds_g"] if raw else f"{d['adds_g']:.4f}"})
    print(render(rows, args.format, columns=cols))
    if args.runtime or args.memory:
        print()
        rt_cols, rt_rows = _runtime_rows(docs, raw)
        print(render(rt_rows, args.format, columns=rt_cols))
    if args.format != "table":
        return 0
    print(f"\nconvention {conv}: {CONVENTIONS[conv]}")
    if conv in NTIRE_CONVENTIONS:
        d = docs[0]
        print(f"FLOPs: {d['flops_rule']}")
        print(f"#Acts, #Conv: {d['activations_rule']}")
        print(f"params: {d['params_rule']}")
    else:
        print(f"Mult-Adds: {MACS_RULE}")
        print(f"true FLOPs: {FLOPS_RULE}")
        print("params: learnable parameters (PReLU slopes included; fixed MeanShift/colour convs excluded)")
    print("weights: bytes of those parameters at 4 / 2 / 1 bytes each (int8 without quantisation scales)")
    if args.mults_adds:
        print(f"mults/adds: {docs[0]['mults_adds_rule']}")
    if args.runtime or args.memory:
        _print_runtime_notes(docs)
    notes: dict[str, list[str]] = {}
    for d in docs:
        if d["notes"]:
            notes.setdefault(d["notes"], []).append(f"{d['model']} x{d['scale']}")
    for text, who in notes.items():
        print(f"note ({', '.join(who)}): {text}")
    return 0


def _print_runtime_notes(docs) -> None:
    print("runtime ntire: batch 1, forward only, no warm-up, CUDA events + synchronize (CPU perf_counter), "
          "mean of per-image ms; clean: warm-up, torch.utils.benchmark median per image (IQR beside), "
          "mean over images")
    kinds = {r["method"]: r["memory_kind"] for d in docs for r in d.get("runtime", []) if r["memory_kind"]}
    for method, kind in kinds.items():
        print(f"peak memory ({method}): {kind}")
    envs = {tuple(sorted(r["environment"].items())) for d in docs for r in d.get("runtime", [])}
    for env in envs:
        e = dict(env)
        print(f"environment: {e['device_name']} ({e['device']}), {e['threads']} threads, torch {e['torch']}, "
              f"CUDA {e['cuda']}, cuDNN {e['cudnn']}, cudnn.benchmark={e['cudnn_benchmark']}, "
              f"TF32 matmul={e['tf32_matmul']} cudnn={e['tf32_cudnn']}")
