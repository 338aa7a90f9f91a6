"""Markdown leaderboards generated from result files.

One file per (protocol, scale): rows are models, columns are sets x metrics, plus trainable params,
Mult-Adds (convention named) and the published PSNR with the delta to it. Results of different
protocols (or protocol versions) never share a table; non-fp32 and ``--limit`` runs are left out.
The output depends only on the results, so ``--check`` can compare it byte for byte.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from .metrics import get_metric

SET_ORDER = ["set5", "set14", "b100", "urban100", "div2k"]
SET_TITLES = {"set5": "Set5", "set14": "Set14", "b100": "B100", "urban100": "Urban100", "div2k": "DIV2K"}
METRIC_ORDER = ["psnr", "ssim", "lpips", "niqe", "pi"]
METRIC_TITLES = {"psnr": "PSNR", "ssim": "SSIM", "lpips": "LPIPS", "niqe": "NIQE", "pi": "PI"}
FLOATFMT = {"psnr": ".2f", "ssim": ".4f", "lpips": ".4f", "niqe": ".3f", "pi": ".3f"}
NOTE_THRESHOLD_DB = 0.02


@dataclass
class Table:
    protocol: str  # name@version
    scale: int
    docs: dict  # (model, dataset) -> result document

    @property
    def filename(self) -> str:
        return f"{self.protocol.split('@')[0]}_x{self.scale}.md"


def eligible(doc: dict) -> bool:
    prov = doc.get("provenance", {})
    return prov.get("precision", "fp32") == "fp32" and not prov.get("dataset", {}).get("limit")


def group(docs: list[dict]) -> list[Table]:
    tables: dict[tuple[str, int], dict] = defaultdict(dict)
    for d in docs:
        if not eligible(d):
            continue
        key = (f"{d['protocol']['name']}@{d['protocol']['version']}", d["scale"])
        tables[key][(d["model"], d["dataset"])] = d
    return [Table(p, s, t) for (p, s), t in sorted(tables.items())]


def _sets(table: Table) -> list[str]:
    present = {ds for _, ds in table.docs}
    return [s for s in SET_ORDER if s in present] + sorted(present - set(SET_ORDER))


def _metrics(table: Table) -> list[str]:
    present = {m for d in table.docs.values() for m in d["metrics"]}
    return [m for m in METRIC_ORDER if m in present]


def _complexity(docs: list[dict]) -> dict:
    for d in docs:
        if d.get("complexity"):
            return d["complexity"]
    return {}


def _published(doc: dict) -> list[dict]:
    """The card's current published rows for this result (cards get corrected without re-running
    models); the copy inside the result for models not in the registry (someone else's card)."""
    from .errors import SrbenchError
    from .models import get_card

    try:
        card = get_card(doc["model"])
    except SrbenchError:
        return doc.get("published", [])
    return [r for r in card.published if r["dataset"] == doc["dataset"] and r["scale"] == doc["scale"]]


def _paper_row(doc: dict) -> dict | None:
    return next((r for r in _published(doc) if r.get("kind", "paper") == "paper"), None)


def _fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def _model_order(table: Table) -> list[str]:
    models = {m for m, _ in table.docs}
    def key(m):
        c = _complexity([d for (mm, _), d in table.docs.items() if mm == m])
        return (m != "bicubic", c.get("macs_g") if c.get("macs_g") is not None else -1, m)
    return sorted(models, key=key)


def render_table(table: Table) -> tuple[str, list[str]]:
    """The markdown table and the notes on >0.02 dB deviations from published PSNR."""
    from tabulate import tabulate

    sets, metrics = _sets(table), _metrics(table)
    models = _model_order(table)
    proto_name = table.protocol.split("@")[0]
    headers = ["Model", "Params", "Mult-Adds (G)"]
    columns: list[tuple[str, str]] = []
    for s in sets:
        for m in metrics:
            columns.append((s, m))
            headers.append(f"{SET_TITLES.get(s, s)} {METRIC_TITLES[m]} {get_metric(m).arrow}")
            if m == "psnr":
                columns.append((s, "paper"))
                headers.append(f"{SET_TITLES.get(s, s)} paper PSNR (Δ)")

    best: dict[tuple[str, str], float] = {}
    for s, m in columns:
        if m == "paper":
            continue
        vals = [table.docs[(mod, s)]["metrics"].get(m) for mod in models if (mod, s) in table.docs]
        vals = [v for v in vals if v is not None and math.isfinite(v)]
        if vals:
            best[(s, m)] = max(vals) if get_metric(m).higher_is_better else min(vals)

    rows, notes = [], []
    for mod in models:
        docs = [d for (mm, _), d in table.docs.items() if mm == mod]
        c = _complexity(docs)
        title = docs[0].get("model_title", mod)
        row = [f"{title} (`{mod}`)", _fmt_params(c.get("params")), _fmt(c.get("macs_g"), ".2f")]
        for s, m in columns:
            d = table.docs.get((mod, s))
            if d is None:
                row.append("–")
                continue
            if m == "paper":
                paper = _paper_row(d)
                if paper is None or paper.get("psnr") is None:
                    row.append("–")
                    continue
                delta = d["metrics"]["psnr"] - paper["psnr"]
                mark = "†" if _protocol_differences(paper, d) else ""
                row.append(f"{paper['psnr']:.2f}{mark} ({delta:+.2f})")
                if abs(delta) > NOTE_THRESHOLD_DB:
                    notes.append(_deviation_note(mod, s, table.scale, d, paper, delta, proto_name))
                continue
            v = d["metrics"].get(m)
            text = _fmt(v, FLOATFMT[m])
            if v is not None and (s, m) in best and v == best[(s, m)]:
                text = f"**{text}**"
            row.append(text)
        rows.append(row)
    md = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    return md, notes


def _fmt_params(p) -> str:
    if p is None:
        return "–"
    if p == 0:
        return "0"
    return f"{p / 1e3:.1f}K" if p < 1e6 else f"{p / 1e6:.3f}M"


_NOT_SETTINGS = ("name", "version", "description", "source")


def _protocol_differences(paper: dict, doc: dict) -> list[str] | None:
    """Settings in which the paper's protocol differs from the result's, on this set (grey handling
    counts only when the set has a grey image); None when they are the same protocol."""
    from .errors import SrbenchError
    from .protocols import get_protocol

    name = paper.get("protocol", doc["protocol"]["name"])
    if name == doc["protocol"]["name"]:
        return None
    try:
        other = get_protocol(name).to_dict()
    except SrbenchError:
        return ["(unknown protocol)"]
    ours = doc["protocol"]
    diffs = [k for k in other if k not in _NOT_SETTINGS and other[k] != ours.get(k)]
    if not any(i.get("gray") for i in doc.get("images", [])):
        diffs = [k for k in diffs if k != "gray"]
    return diffs or None


def _deviation_note(model, dataset, scale, doc, paper, delta, proto_name) -> str:
    reasons = []
    diffs = _protocol_differences(paper, doc)
    if diffs:
        reasons.append(f"the paper used its own protocol `{paper['protocol']}` (this table: `{proto_name}`; "
                       f"differs in {', '.join(diffs)})")
    if diffs and "gray" in diffs:
        grey = [i["name"] for i in doc["images"] if i.get("gray")]
        gain = 20 * math.log10(255 / 219) * len(grey) / doc["n_images"]
        reasons.append(f"grey image {', '.join(grey)} is taken as RGB (16-235 Y) by one protocol and as Y by "
                       f"the other: {gain:.3f} dB on the set mean")
    why = (paper.get("why") or "").strip()
    if why:
        reasons.append(why)
    if not reasons:
        reasons.append("no known cause; see the model card")
    return (f"- `{model}` {SET_TITLES.get(dataset, dataset)} x{scale}: {doc['metrics']['psnr']:.3f} dB vs "
            f"published {paper['psnr']:.2f} ({delta:+.3f} dB): " + "; ".join(reasons) + ".")


def protocol_footer(table: Table) -> str:
    any_doc = next(iter(table.docs.values()))
    p = any_doc["protocol"]
    dates = sorted(d["provenance"].get("date", "") for d in table.docs.values())
    versions = sorted({d["provenance"].get("srbench_version", "?") for d in table.docs.values()})
    conv = _complexity(list(table.docs.values())).get("convention", "hr720")
    settings = "; ".join(f"{k}: {v}" for k, v in p.items() if k not in ("name", "version", "description", "source"))
    return (
        f"Protocol **{p['name']}** v{p['version']} ({p['description']}; {p['source']}). Settings: {settings}.\n\n"
        f"Params: trainable parameters. Mult-Adds: convolution weight multiply-accumulates under the `{conv}` "
        "convention (input sized for a 1280x720 HR output; a transposed conv counted per HR output pixel). "
        "Best value per column in bold; ↑ higher is better, ↓ lower is better. Paper PSNR: the value the paper "
        "publishes (Δ = ours − paper); † = the paper used another protocol.\n\n"
        f"Generated by srbench {', '.join(versions)} (`srbench leaderboard`) from runs dated "
        f"{dates[0][:10]} to {dates[-1][:10]}."
    )


def render(table: Table, plots: list[str] | None = None) -> str:
    md, notes = render_table(table)
    title = f"# x{table.scale} — protocol `{table.protocol}`\n"
    parts = [title, md, ""]
    if notes:
        parts += ["## Deviations from published PSNR (> 0.02 dB)", "", *notes, ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    parts += ["---", "", protocol_footer(table), ""]
    return "\n".join(parts)


def render_index(tables: list[Table]) -> str:
    lines = ["# srbench leaderboards", "",
             "Generated from the result files in `leaderboards/results/` by `srbench leaderboard`; "
             "do not edit by hand (`srbench leaderboard --check` fails when these files are stale).", ""]
    for t in tables:
        sets = ", ".join(SET_TITLES.get(s, s) for s in _sets(t))
        lines.append(f"- [x{t.scale}, protocol `{t.protocol}`]({t.filename}): {len({m for m, _ in t.docs})} models on {sets}")
    lines.append("")
    absent = _absent_same_size_models(tables)
    if absent:
        lines += ["Not in these tables: " + ", ".join(f"`{m}`" for m in absent) + " (same-size real-world SR: "
                  "the input already has the HR size, so bicubic-downscaled benchmarks do not apply).", ""]
    return "\n".join(lines)


def _absent_same_size_models(tables: list[Table]) -> list[str]:
    from .models import get_card, list_models

    present = {m for t in tables for m, _ in t.docs}
    return [m for m in list_models() if m not in present and get_card(m).same_size]


def build(docs: list[dict], with_plots: bool = True) -> dict[str, str]:
    """{relative file name: markdown text} for every table plus the index."""
    tables = group(docs)
    files: dict[str, str] = {}
    for t in tables:
        plot_files = plot_names(t) if with_plots else None
        files[t.filename] = render(t, plot_files)
    files["README.md"] = render_index(tables)
    return files


def plot_names(table: Table) -> list[str]:
    """Relative PNG paths of the plots embedded in ``table`` (one per set, metric and cost axis)."""
    from .plots import plot_specs

    return [spec.png for spec in plot_specs(table)]
