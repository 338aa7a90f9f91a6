"""``srbench list models|datasets|metrics|protocols``: a table with headers (``--format json|csv`` for every field)."""

from __future__ import annotations

import argparse

from srbench.commands._common import add_format
from srbench.report.formatting import render

KINDS = ("models", "datasets", "metrics", "protocols")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", metavar="{models,datasets,metrics,protocols}", help="what to list")
    add_format(p)


def _models() -> list[dict]:
    from srbench.models.registry import get_card, list_models

    rows = []
    for name in list_models():
        c = get_card(name)
        rows.append({
            "name": c.name, "aliases": ",".join(c.aliases), "scales": ",".join(f"x{s}" for s in c.scales),
            "colour": c.colour, "paper_protocol": c.paper_protocol, "source": f"{c.repo}@{c.commit[:8]}" if c.commit else c.repo,
            "license": c.license, "title": c.title,
        })
    return rows


def _datasets() -> list[dict]:
    from srbench.datasets import DATASETS

    return [{"name": n, "aliases": ",".join(DATASETS.aliases_of(n)), "title": DATASETS.get(n).title,
             "manifest": DATASETS.get(n).manifest or "-", "source": DATASETS.get(n).paper} for n in DATASETS.names()] + [
        {"name": "folder:PATH", "aliases": "", "title": "any folder of HR images (optional HR/ and LR_bicubic/X{s}/)",
         "manifest": "-", "source": ""}
    ]


def _metrics() -> list[dict]:
    from srbench.metrics.certificates import certificate_info
    from srbench.metrics.registry import METRICS

    rows = []
    for n in METRICS.names():
        m = METRICS.get(n)
        lo, hi = m.value_range
        cert = certificate_info(n)
        if cert is not None:
            delta = cert["max_abs_delta"]
            cert = f"v{cert['version']}: max |delta| {f'{100 * delta:.3f}%' if cert['relative'] else f'{delta:.2g}'}"
        rows.append({"name": n, "better": m.arrow + (" higher" if m.higher_is_better else " lower"),
                     "reference": "full-reference" if m.needs_reference else "no-reference",
                     "range": f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]",
                     "certificate": cert or "-", "description": m.description})
    return rows


def _protocols() -> list[dict]:
    from srbench.protocol.protocols import CANONICAL, PROTOCOLS

    return [{"name": n + (" (canonical)" if n == CANONICAL else ""), **PROTOCOLS.get(n).summary(),
             "description": PROTOCOLS.get(n).description} for n in PROTOCOLS.names()]


# The columns of the terminal table (the rest is in --format json/csv): short ones, so lines do not wrap.
TABLE_COLUMNS = {
    "models": ["name", "aliases", "scales", "colour", "paper_protocol", "title"],
    "datasets": ["name", "aliases", "title", "manifest"],
    "metrics": ["name", "better", "reference", "range"],
    "protocols": ["name", "version", "lr", "sr", "y", "grey", "shave", "lpips"],
}


def run(args) -> int:
    if args.kind not in KINDS:
        from srbench.errors import SrbenchError
        from srbench.registry import did_you_mean

        raise SrbenchError(f"cannot list '{args.kind}'; choose models, datasets, metrics or protocols." + did_you_mean(args.kind, list(KINDS)))
    rows = {"models": _models, "datasets": _datasets, "metrics": _metrics, "protocols": _protocols}[args.kind]()
    columns = TABLE_COLUMNS[args.kind] if args.format == "table" else None
    print(render(rows, args.format, columns=columns))
    return 0
