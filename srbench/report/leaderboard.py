"""Markdown leaderboards generated from result files (see :mod:`srbench.report.tables` for what enters them).

One file per (protocol, scale), each table narrow enough to read (about 10 columns at most):
- a summary: models x sets, PSNR / SSIM (and LPIPS where computed), with params and Mult-Adds;
- one table per set with every metric, the published PSNR and SSIM and the deltas to them;
- models run at another precision (int8, fp16, bf16), beside the fp32 result of the same model;
- notes on every deviation from a published PSNR above 0.02 dB, with its known cause;
- the quality-vs-cost plots and the protocol's settings.
Titles, number formats and arrows come from the metric specs and dataset cards. The output
depends only on the results, so ``--check`` can compare it byte for byte.
"""

from __future__ import annotations

import math

from srbench.protocol.protocols import CANONICAL, NOT_SETTINGS, settings_that_differ
from srbench.report.tables import (
    Catalog,
    Table,
    complexity_of,
    group,
    metric_spec,
    metric_title,
    paper_row,
    set_title,
)
from srbench.report.tradeoff import TRADEOFF_SETS, pareto_table, tradeoff_table

NOTE_THRESHOLD_DB = 0.02
MAX_SET_COLUMNS = 10


def _fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def _fmt_params(p) -> str:
    if p is None:
        return "–"
    if p == 0:
        return "0"
    return f"{p / 1e3:.1f}K" if p < 1e6 else f"{p / 1e6:.3f}M"


def _model_cell(table: Table, model: str) -> str:
    doc = next(d for (m, _), d in table.docs.items() if m == model)
    return f"{doc.get('model_title', model)} (`{model}`)"


def _best(table: Table, dataset: str, metric: str):
    spec = metric_spec(metric)
    vals = [d["metrics"].get(metric) for (m, ds), d in table.docs.items() if ds == dataset]
    vals = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals or spec is None:
        return None
    return max(vals) if spec.higher_is_better else min(vals)


def _value(table: Table, model: str, dataset: str, metric: str, bold: bool = True) -> str:
    d = table.docs.get((model, dataset))
    if d is None or metric not in d["metrics"]:
        return "–"
    spec = metric_spec(metric)
    v = d["metrics"][metric]
    text = _fmt(v, spec.fmt if spec else ".4f")
    if bold and v == _best(table, dataset, metric):
        return f"**{text}**"
    return text + TIE_MARK if bold and model in table.tied_with_best(dataset, metric) else text


TIE_MARK = "≈"


def significance_note(table: Table, dataset: str | None = None) -> str:
    """How the tie marks of a table were decided (one line under it)."""
    from srbench.report.significance import CONFIDENCE, N_RESAMPLES, SEED

    if dataset is not None:
        n = sorted({d["n_images"] for (_, ds), d in table.docs.items() if ds == dataset})
        # The smallest two-sided Wilcoxon p over n images is 2 / 2**n: 0.0625 on 5 images.
        small = [k for k in n if 2.0 / 2 ** k >= 1 - CONFIDENCE]
        why = (f"; on {small[0]} images no signed-rank p can fall below {1 - CONFIDENCE:.2g}, so every model ties"
               if small else "")
        return (f"{TIE_MARK}: not significantly different from the best (bold) at {CONFIDENCE:.0%}, paired over the "
                f"same {'/'.join(map(str, n))} images (method under the summary){why}.")
    return (f"{TIE_MARK}: not significantly different from the best (bold) at {CONFIDENCE:.0%}, paired over the same images: "
            f"the bootstrap {CONFIDENCE:.0%} interval of the mean per-image difference ({N_RESAMPLES:,} resamples, "
            f"seed {SEED}) includes 0 or the Wilcoxon signed-rank p ≥ {1 - CONFIDENCE:.2g} (`srbench compare`); "
            "no correction for multiple comparisons.")


def _md(rows: list[list[str]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def summary_tables(table: Table) -> list[str]:
    """Models x sets: PSNR / SSIM (one cell per set), then LPIPS where computed."""
    sets = table.sets
    out = []
    fidelity = [m for m in ("psnr", "ssim") if m in table.metrics]
    if fidelity:
        headers = ["Model", "Params", "Mult-Adds (G)"] + [f"{set_title(s)} {' / '.join(metric_title(m) for m in fidelity)}"
                                                         for s in sets]
        rows = []
        for model in table.models:
            c = complexity_of([d for (m, _), d in table.docs.items() if m == model])
            rows.append([_model_cell(table, model), _fmt_params(c.get("params")), _fmt(c.get("macs_g"), ".2f")]
                        + [" / ".join(_value(table, model, s, m) for m in fidelity) for s in sets])
        out.append(_md(rows, headers))
    for metric in (m for m in table.metrics if metric_spec(m) and metric_spec(m).input == "lpips"):
        rows = [[_model_cell(table, model)] + [_value(table, model, s, metric) for s in sets] for model in table.models]
        out.append(_md(rows, ["Model"] + [f"{set_title(s)} {metric_title(metric)}" for s in sets]))
    return out


def _published_cell(doc: dict, metric: str, spec_fmt: str, catalog: Catalog) -> str:
    paper = paper_row(doc, catalog)
    if paper is None or paper.get(metric) is None or metric not in doc["metrics"]:
        return "–"
    mark = "†" if settings_that_differ(paper, doc) else ""
    delta = doc["metrics"][metric] - paper[metric]
    return f"{format(paper[metric], spec_fmt)}{mark} ({delta:+{spec_fmt[:-1]}f})"


def set_table(table: Table, dataset: str) -> str:
    """Every metric of one set, with the published PSNR and SSIM and the deltas to them."""
    metrics = table.metrics
    columns: list[tuple[str, str]] = []
    for m in metrics:
        columns.append((m, "value"))
        if m in ("psnr", "ssim"):
            columns.append((m, "paper"))
    columns = columns[:MAX_SET_COLUMNS - 1]
    headers = ["Model"] + [metric_title(m) if kind == "value" else f"paper {metric_spec(m).title} (Δ)" for m, kind in columns]
    rows = []
    for model in table.models:
        d = table.docs.get((model, dataset))
        if d is None:
            continue
        row = [_model_cell(table, model)]
        for m, kind in columns:
            row.append(_value(table, model, dataset, m) if kind == "value" else _published_cell(d, m, metric_spec(m).fmt, table.catalog))
        rows.append(row)
    rows += _reference_rows(table, dataset, columns)
    return _md(rows, headers)


def _reference_rows(table: Table, dataset: str, columns) -> list[list[str]]:
    """Published values of models without weights (model_zoo/references.toml), in the canonical table."""
    if table.name != CANONICAL:
        return []
    rows = []
    for ref in table.catalog.references:
        row = next((r for r in ref.published if r["dataset"] == dataset and r["scale"] == table.scale), None)
        if row is None:
            continue
        cells = [f"{ref.title} (published; no weights)"]
        for m, kind in columns:
            cells.append(format(row[m], metric_spec(m).fmt) if kind == "paper" and row.get(m) is not None else "–")
        rows.append(cells)
    return rows


def other_precision_table(table: Table, fp32: Table | None) -> str:
    """PSNR / SSIM of each model at ``table.precision``, and the delta to its fp32 result."""
    fidelity = [m for m in ("psnr", "ssim") if m in table.metrics]
    headers = ["Model", "Set"] + [h for m in fidelity for h in (metric_title(m), f"Δ vs fp32 {metric_spec(m).title}")]
    rows = []
    for model in table.models:
        for s in table.sets:
            d = table.docs.get((model, s))
            if d is None:
                continue
            ref = fp32.docs.get((model, s)) if fp32 else None
            row = [_model_cell(table, model), set_title(s)]
            for m in fidelity:
                spec = metric_spec(m)
                row.append(_fmt(d["metrics"].get(m), spec.fmt))
                delta = None if ref is None or m not in ref["metrics"] else d["metrics"][m] - ref["metrics"][m]
                row.append("–" if delta is None else f"{delta:+{spec.fmt[:-1]}f}")
            rows.append(row)
    return _md(rows, headers)


# The set whose forward times stand for a model in the efficiency table: the largest one present.
RUNTIME_SETS = ("urban100", "b100", "div2k", "set14", "set5")


def efficiency_table(table: Table) -> tuple[str, str]:
    """Params, Mult-Adds (hr720), the NTIRE 2022 figures and the run's forward time per image (shown
    only when every result of that set was timed on one named device); and a note saying so."""
    runtime_set = next((s for s in RUNTIME_SETS if s in table.sets), None)
    timed = [table.docs[(m, runtime_set)] for m in table.models if (m, runtime_set) in table.docs]
    devices = {((d.get("efficiency") or {}).get("device_name"), (d.get("efficiency") or {}).get("threads")) for d in timed}
    one_device = len(devices) == 1 and None not in next(iter(devices), (None,))
    headers = ["Model", "Params", "Mult-Adds hr720 (G)", "NTIRE FLOPs (G)", "NTIRE Acts (M)", "NTIRE #Conv"]
    if one_device:
        headers.append(f"Forward ms ({set_title(runtime_set)} median)")
    rows = []
    for model in table.models:
        c = complexity_of([d for (m, _), d in table.docs.items() if m == model])
        n = c.get("ntire2022") or {}
        row = [_model_cell(table, model), _fmt_params(c.get("params")), _fmt(c.get("macs_g"), ".2f"),
               _fmt(n.get("flops_g"), ".2f"), _fmt(n.get("activations_m"), ".2f"), _fmt(n.get("convs"), "d")]
        if one_device:
            d = table.docs.get((model, runtime_set))
            fwd = ((d or {}).get("efficiency") or {}).get("forward_ms") or {}
            row.append(_fmt(fwd.get("median"), ".1f"))
        rows.append(row)
    if one_device:
        name, threads = next(iter(devices))
        note = (f"Forward ms: the median per-image forward time of the {set_title(runtime_set)} runs (model only, "
                f"batch 1, full images) on {name}, {threads} thread(s) per worker; `srbench profile --runtime` "
                "gives the NTIRE and clean timing methods.")
    else:
        note = "No runtime column: these results were not all timed on one device."
    return _md(rows, headers), note + (" NTIRE: the NTIRE 2022 efficient-SR challenge's counts on a 1x3x256x256 "
                                       "LR input (`srbench profile --convention ntire2022`).")


def tradeoff_section(table: Table) -> str | None:
    """The ICLR 2019 study's metrics against the model with the highest PSNR summed over the four sets."""
    docs = list(table.docs.values())
    complete = [m for m in table.models
                if all((m, s) in table.docs and "psnr" in table.docs[(m, s)]["metrics"] for s in TRADEOFF_SETS)
                and (complexity_of([table.docs[(m, "set5")]]).get("params") or 0) > 0]
    if len(complete) < 2:
        return None
    reference = max(complete, key=lambda m: sum(table.docs[(m, s)]["metrics"]["psnr"] for s in TRADEOFF_SETS))
    rows_data, _ = tradeoff_table(docs, reference, complete, table.scale)
    rows = []
    for r in rows_data:
        if r["model"] == reference or r.get("psnr_loss_db") is None or r["psnr_loss_db"] <= 0:
            continue
        rows.append([_model_cell(table, r["model"]), _fmt(r["psnr_loss_db"], ".3f"),
                     _fmt(r.get("macs_saved_g_per_001db"), ".3f"), _fmt(r.get("params_saved_k_per_001db"), ".3f")])
    if not rows:
        return None
    md = _md(rows, ["Model", "PSNR loss (dB, sum of 4 sets)", "Mult-Adds saved per 0.01 dB (G)",
                    "Params saved per 0.01 dB (K)"])
    return (f"Against {_model_cell(table, reference)}, the highest PSNR summed over "
            f"{', '.join(set_title(s) for s in TRADEOFF_SETS)} (the efficiency study of ICLR 2019: savings per 0.01 dB "
            f"of that PSNR loss; `srbench tradeoff`).\n\n{md}")


def dominance_table(table: Table) -> str | None:
    """Per set: on the Pareto front in (PSNR up, Mult-Adds down, params down), or dominated by whom (FALSR)."""
    rows_data = pareto_table(list(table.docs.values()), "psnr")
    if not rows_data:
        return None
    cell = {(r["model"], r["dataset"]): ("front" if r["pareto_optimal"] else "by " + ", ".join(f"`{m}`" for m in r["dominated_by"]))
            for r in rows_data}
    models = [m for m in table.models if any((m, s) in cell for s in table.sets)]
    rows = [[_model_cell(table, m)] + [cell.get((m, s), "–") for s in table.sets] for m in models]
    return _md(rows, ["Model"] + [set_title(s) for s in table.sets])


def _deviation_note(model, dataset, scale, doc, paper, delta, proto_name) -> str:
    reasons = []
    diffs = settings_that_differ(paper, doc)
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
    return (f"- `{model}` {set_title(dataset)} x{scale}: {doc['metrics']['psnr']:.3f} dB vs "
            f"published {paper['psnr']:.2f} ({delta:+.3f} dB): " + "; ".join(reasons) + ".")


def deviation_notes(table: Table) -> list[str]:
    notes = []
    for model in table.models:
        for s in table.sets:
            d = table.docs.get((model, s))
            paper = paper_row(d, table.catalog) if d else None
            if d is None or paper is None or paper.get("psnr") is None or "psnr" not in d["metrics"]:
                continue
            delta = d["metrics"]["psnr"] - paper["psnr"]
            if abs(delta) > NOTE_THRESHOLD_DB:
                notes.append(_deviation_note(model, s, table.scale, d, paper, delta, table.name))
    return notes


def metric_notes(table: Table) -> list[str]:
    """The notes a result's set values carry (NIQE means that include ill-conditioned images)."""
    notes = []
    for model in table.models:
        for s in table.sets:
            d = table.docs.get((model, s))
            for name, info in ((d or {}).get("metric_info") or {}).items():
                if info.get("note"):
                    notes.append(f"- `{model}` {set_title(s)} {metric_spec(name).title}: {info['note']}.")
    return notes


def protocol_footer(table: Table) -> str:
    any_doc = next(iter(table.docs.values()))
    p = any_doc["protocol"]
    dates = sorted(d["provenance"].get("date", "") for d in table.docs.values())
    versions = sorted({d["provenance"].get("srbench_version", "?") for d in table.docs.values()})
    conv = complexity_of(list(table.docs.values())).get("convention", "hr720")
    settings = "; ".join(f"{k}: {v}" for k, v in p.items() if k not in NOT_SETTINGS)
    return (
        f"Protocol **{p['name']}** v{p['version']} ({p['description']}; {p['source']}). Settings: {settings}.\n\n"
        f"Params: trainable parameters. Mult-Adds: convolution weight multiply-accumulates under the `{conv}` "
        "convention (input sized for a 1280x720 HR output; a transposed conv counted per HR output pixel). "
        "Best value per column in bold; ↑ higher is better, ↓ lower is better. Paper: the value the paper "
        "publishes (Δ = ours − paper); † = the paper used another protocol.\n\n"
        f"Generated by srbench {', '.join(versions)} (`srbench leaderboard`) from runs dated "
        f"{dates[0][:10]} to {dates[-1][:10]}."
    )


def render(table: Table, others: list[Table], plots: list[str] | None = None) -> str:
    parts = [f"# x{table.scale} — protocol `{table.protocol}`", "",
             next(iter(table.docs.values()))["protocol"]["description"] + ".", "", "## Summary", ""]
    for md in summary_tables(table):
        parts += [md, ""]
    parts += [significance_note(table) + " The summary marks the ties of each set's table.", ""]
    for s in table.sets:
        parts += [f"## {set_title(s)}", "", set_table(table, s), "", significance_note(table, s), ""]
    eff, note = efficiency_table(table)
    parts += ["## Efficiency", "", eff, "", note, ""]
    trade = tradeoff_section(table)
    if trade:
        parts += ["## Trade-off", "", trade, ""]
    dom = dominance_table(table)
    if dom:
        parts += ["## Pareto dominance (PSNR, Mult-Adds, params)", "",
                  "`front`: no other model has at least the PSNR with at most the Mult-Adds and params (and is "
                  "better in one); otherwise the models that dominate it (FALSR's criterion; `srbench pareto`).", "",
                  dom, ""]
    for other in others:
        parts += [f"## {other.precision}", "", f"Results at {other.precision} precision, beside the fp32 result of "
                  "the same model (never ranked with fp32).", "", other_precision_table(other, table), ""]
    notes = deviation_notes(table)
    if notes:
        parts += ["## Deviations from published PSNR (> 0.02 dB)", "", *notes, ""]
    caveats = metric_notes(table)
    if caveats:
        parts += ["## Metric notes", "", *caveats, ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    parts += ["---", "", protocol_footer(table), ""]
    return "\n".join(parts)


def render_index(tables: list[Table], catalog: Catalog) -> str:
    lines = ["# srbench leaderboards", "",
             "Generated from the result files in `leaderboards/results/` by `srbench leaderboard`; "
             "do not edit by hand (`srbench leaderboard --check` fails when these files are stale).", "",
             "| protocol | scale | models | sets | file |", "|---|---|---|---|---|"]
    for t in tables:
        if t.precision != "fp32":
            continue
        sets = ", ".join(set_title(s) for s in t.sets)
        lines.append(f"| `{t.protocol}` | x{t.scale} | {len(t.models)} | {sets} | [{t.filename}]({t.filename}) |")
    lines.append("")
    absent = _absent_same_size_models(tables, catalog)
    if absent:
        lines += ["Not in these tables: " + ", ".join(f"`{m}`" for m in absent) + " (same-size real-world SR: "
                  "the input already has the HR size, so bicubic-downscaled benchmarks do not apply).", ""]
    return "\n".join(lines)


def _absent_same_size_models(tables: list[Table], catalog: Catalog) -> list[str]:
    present = {m for t in tables for m, _ in t.docs}
    return [m for m in catalog.same_size if m not in present]


def build(files, catalog: Catalog, with_plots: bool = True) -> dict[str, str]:
    """{relative file name: markdown text} for every table plus the index; ``files`` are
    (path, result document) pairs; ``catalog`` the zoo's published rows (the report never reads the zoo)."""
    from srbench.report.plots import plot_specs

    tables = group(files, catalog)
    out: dict[str, str] = {}
    for t in (t for t in tables if t.precision == "fp32"):
        others = [o for o in tables if o.precision != "fp32" and (o.protocol, o.scale) == (t.protocol, t.scale)]
        out[t.filename] = render(t, others, [s.png for s in plot_specs(t)] if with_plots else None)
    out["README.md"] = render_index(tables, catalog)
    return out


def stale(files: dict[str, str], out) -> list:
    """The files of ``build`` whose committed copy under ``out`` differs (or is missing)."""
    from pathlib import Path

    return [Path(out) / name for name, text in files.items()
            if not (Path(out) / name).exists() or (Path(out) / name).read_text() != text]


def publish(results, out, catalog: Catalog, plots: bool = True) -> list:
    """Write the markdown of ``build`` (and the plots) under ``out``; returns the markdown paths.
    ``results`` are (path, result document) pairs."""
    from pathlib import Path

    from srbench.store.files import write_text

    files = build(results, catalog, with_plots=plots)
    for name, text in files.items():
        write_text(Path(out) / name, text)
    if plots:
        from srbench.report.plots import draw_all

        draw_all([t for t in group(results, catalog) if t.precision == "fp32"], Path(out))
    return [Path(out) / n for n in files]
