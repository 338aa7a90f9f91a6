"""``srbench profile``: learnable parameters and Mult-Adds under a named convention, published beside.

Counted on the randomly initialised module (no weights needed) with srbench's Mult-Adds convention;
true FLOPs from torch's stock counter are shown for reference. See ``srbench/complexity.py``.
"""

from __future__ import annotations

import argparse

from ..formatting import render
from ._common import add_format, parse_scales, split_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..complexity import CONVENTIONS

    p.add_argument("--model", required=True, help="model name(s), comma-separated (srbench list models)")
    p.add_argument("--scale", help="scale(s), e.g. 2,3,4 (default: every scale the model supports)")
    p.add_argument("--convention", default="hr720", choices=tuple(CONVENTIONS),
                   help="hr720: HR output 1280x720 (default); lr480: 480x480 LR input")
    add_format(p)


def _g(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _n(v) -> str:
    return "-" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def _pub(d: dict, key: str, paper_key: str) -> str:
    s = _n(d[key])  # as published, no reformatting
    return s + (f"; paper {d[paper_key]}" if d.get(paper_key) is not None else "")


def run(args) -> int:
    from ..complexity import CONVENTIONS, FLOPS_RULE, MACS_RULE, profile
    from ..models import get_card

    cards = [get_card(m) for m in split_list(args.model)]
    scales = parse_scales(args.scale)
    plan = []
    for card in cards:  # validate everything before counting anything
        for s in scales or card.scales:
            card.check_scale(s)
            plan.append((card, s))
    docs = [profile(card, s, args.convention) for card, s in plan]

    conv = args.convention
    if args.format == "json":
        print(render([], "json", json_doc=docs))
        return 0
    cols = ["model", "scale", f"input ({conv})", "params", "params published",
            f"Mult-Adds {conv} (G)", "published (G)", f"true FLOPs {conv} (G)"]
    raw = args.format == "csv"
    rows = [{
        cols[0]: d["model"], cols[1]: d["scale"], cols[2]: d["input"] + (" x1ch" if d["input_channels"] == 1 else ""),
        cols[3]: d["params"] if raw else _n(d["params"]),
        cols[4]: d["params_published"] if raw else _pub(d, "params_published", "params_paper"),
        cols[5]: d["macs_g"] if raw else _g(d["macs_g"]),
        cols[6]: d["macs_published_g"] if raw else _pub(d, "macs_published_g", "macs_paper_g"),
        cols[7]: d["flops_true_g"] if raw else _g(d["flops_true_g"]),
    } for d in docs]
    print(render(rows, args.format, columns=cols))
    if args.format == "table":
        print(f"\nconvention {conv}: {CONVENTIONS[conv]}")
        print(f"Mult-Adds: {MACS_RULE}")
        print(f"true FLOPs: {FLOPS_RULE}")
        print("params: learnable parameters (PReLU slopes included; fixed MeanShift/colour convs excluded)")
        notes: dict[str, list[str]] = {}
        for d in docs:
            if d["notes"]:
                notes.setdefault(d["notes"], []).append(f"{d['model']} x{d['scale']}")
        for text, who in notes.items():
            print(f"note ({', '.join(who)}): {text}")
    return 0
