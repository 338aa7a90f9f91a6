"""Efficiency trade-offs computed from result files.

**Trade-off metrics** of the ICLR 2019 efficiency study (``shared/seeds/004``, section 2): for a
model against a reference (the uncompressed model), the Mult-Adds saved and the parameters saved for
every 0.01 dB of PSNR lost, the loss summed over Set5, Set14, B100 and Urban100 at one scale:

    loss   = sum_sets PSNR_ref - sum_sets PSNR_model             (dB)
    MA/0.01 = (Mult-Adds_ref - Mult-Adds_model) / (loss / 0.01)   (G, Mult-Adds at a 720p output: hr720)
    P/0.01  = (params_ref - params_model) / (loss / 0.01)         (K)

This reproduces every value of the study's Tables 1 and 2 from the tables' own PSNR, Mult-Adds and
parameter columns (tests/test_tradeoff.py). With no loss (loss <= 0) the metrics are undefined.

**Pareto dominance** as FALSR reports it (``shared/seeds/001``): per set and scale, a model is
dominated when another is at least as good in quality (PSNR or SSIM, higher) and at least as cheap in
Mult-Adds and in parameters (lower), and strictly better in one of the three; optional constraints
(maximum Mult-Adds, maximum parameters) remove models first.

Result documents (srbench/store/results.py ``load_results``) of different protocols or precisions never mix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from srbench.errors import SrbenchError
from srbench.report.tables import complexity_of

TRADEOFF_SETS = ("set5", "set14", "b100", "urban100")


def tradeoff_metrics(ref_psnrs, ref_macs_g: float, ref_params: int, psnrs, macs_g: float, params: int) -> dict:
    """The study's two metrics for one model: ``psnrs`` and ``ref_psnrs`` are the PSNRs on the four
    sets (any iterable, same order), ``params`` counts parameters (the result is in K)."""
    loss = sum(ref_psnrs) - sum(psnrs)
    units = loss / 0.01
    ok = loss > 0
    return {
        "psnr_sum": sum(psnrs),
        "psnr_loss_db": loss,
        "macs_saved_g_per_001db": (ref_macs_g - macs_g) / units if ok else None,
        "params_saved_k_per_001db": (ref_params - params) / 1000 / units if ok else None,
    }


@dataclass(frozen=True)
class _Key:
    protocol: str  # "name v<version>"
    precision: str


def _key(doc: dict) -> _Key:
    from srbench.report.precision import precision_label

    p = doc.get("protocol") or {}
    return _Key(f"{p.get('name')} v{p.get('version')}", precision_label(doc))


def _complexity(doc: dict, what: str) -> tuple[float | None, int | None]:
    c = complexity_of([doc])
    conv = c.get("convention", "hr720")
    if c and conv != "hr720":
        raise SrbenchError(f"{what}: its result's Mult-Adds are under convention '{conv}'; the trade-off needs hr720")
    return c.get("macs_g"), c.get("params")


def _index(docs: list[dict]) -> dict:
    """(model, dataset, scale, key) -> doc; a duplicate is an error (two runs of one thing)."""
    out = {}
    for d in docs:
        k = (d["model"], d["dataset"], d["scale"], _key(d))
        if k in out:
            raise SrbenchError(f"two results for {d['model']} on {d['dataset']} x{d['scale']} under {k[3].protocol} "
                               f"({k[3].precision}); keep one in the results folder")
        out[k] = d
    return out


def _pick_key(index: dict, reference: str, scale: int, protocol: str | None, sets=TRADEOFF_SETS) -> _Key:
    keys = {k for (m, ds, s, k) in index if m == reference and s == scale}
    if protocol:
        keys = {k for k in keys if k.protocol.split(" v")[0] == protocol}
    full = sorted((k for k in keys if all((reference, ds, scale, k) in index for ds in sets)),
                  key=lambda k: (k.protocol, k.precision))
    if not full:
        have = sorted({ds for (m, ds, s, k) in index if m == reference and s == scale and k in keys})
        raise SrbenchError(f"reference '{reference}' x{scale} needs results on {', '.join(sets)}"
                           + (f" under protocol {protocol}" if protocol else "")
                           + f"; found {', '.join(have) or 'none'}")
    if len(full) > 1:
        raise SrbenchError(f"reference '{reference}' x{scale} has results under several protocols/precisions ("
                           + ", ".join(f"{k.protocol} {k.precision}" for k in full) + "); pick one with --protocol "
                           "and --precision")
    return full[0]


def tradeoff_table(docs: list[dict], reference: str, models: list[str], scale: int,
                   protocol: str | None = None) -> tuple[list[dict], _Key]:
    """One row per model (the reference first) with the study's metrics against ``reference``."""
    index = _index([d for d in docs if d.get("scale") == scale])
    key = _pick_key(index, reference, scale, protocol)
    ref_docs = [index[(reference, ds, scale, key)] for ds in TRADEOFF_SETS]
    ref_macs, ref_params = _complexity(ref_docs[0], reference)
    ref_psnrs = [d["metrics"]["psnr"] for d in ref_docs]
    rows = []
    for name in [reference] + [m for m in models if m != reference]:
        have = [index.get((name, ds, scale, key)) for ds in TRADEOFF_SETS]
        missing = [ds for ds, d in zip(TRADEOFF_SETS, have) if d is None or "psnr" not in d["metrics"]]
        row = {"model": name, "scale": scale, "protocol": key.protocol, "precision": key.precision,
               "psnr": {ds: (d["metrics"].get("psnr") if d else None) for ds, d in zip(TRADEOFF_SETS, have)},
               "missing": missing}
        if missing:
            rows.append(row)
            continue
        macs, params = _complexity(have[0], name)
        row.update(macs_g=macs, params=params)
        if None in (macs, params, ref_macs, ref_params):
            row["missing"] = ["complexity"]
        elif name != reference:
            row.update(tradeoff_metrics(ref_psnrs, ref_macs, ref_params, [d["metrics"]["psnr"] for d in have],
                                        macs, params))
        else:
            row.update(psnr_sum=sum(ref_psnrs), psnr_loss_db=0.0)
        rows.append(row)
    return rows, key


# --- Pareto dominance --------------------------------------------------------------------------------

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_amount(value: str, unit: str) -> float:
    """'10G' -> 10 (unit 'G') or 1e10 (unit ''); '500K' -> 500000 (unit ''). Plain numbers are in ``unit``."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*", value or "")
    if not m:
        raise SrbenchError(f"bad amount '{value}': use e.g. 10G, 500K, 1.2M")
    number, suffix = float(m.group(1)), m.group(2).lower()
    if not suffix:
        return number
    return number * _SUFFIX[suffix] / _SUFFIX[unit.lower()]


def pareto_table(docs: list[dict], metric: str = "psnr", max_macs_g: float | None = None,
                 max_params: float | None = None, models: list[str] | None = None,
                 datasets: list[str] | None = None, scales: list[int] | None = None) -> list[dict]:
    """Rows (one per model, per set, scale, protocol and precision) saying which models are dominated
    in (``metric`` up, Mult-Adds down, params down) and by whom, after the constraints."""
    groups: dict[tuple, list[dict]] = {}
    for d in docs:
        if models and d["model"] not in models or datasets and d["dataset"] not in datasets \
                or scales and d["scale"] not in scales or metric not in d["metrics"]:
            continue
        c = complexity_of([d])
        macs, params = c.get("macs_g"), c.get("params")
        if macs is None or params is None:
            continue
        if max_macs_g is not None and macs > max_macs_g or max_params is not None and params > max_params:
            continue
        k = _key(d)
        groups.setdefault((d["dataset"], d["scale"], k.protocol, k.precision), []).append(
            {"model": d["model"], metric: d["metrics"][metric], "macs_g": macs, "params": params,
             "macs_convention": c.get("convention", "hr720")})
    rows = []
    for (ds, scale, protocol, precision), members in sorted(groups.items()):
        conventions = sorted({m["macs_convention"] for m in members})
        if len(conventions) > 1:
            raise SrbenchError(f"{ds} x{scale}: Mult-Adds under several conventions ({', '.join(conventions)}) cannot "
                               "be compared")
        names = [m["model"] for m in members]
        if len(set(names)) != len(names):
            raise SrbenchError(f"two results for one model on {ds} x{scale} under {protocol} ({precision})")
        for a in sorted(members, key=lambda m: (-m[metric], m["macs_g"], m["params"])):
            by = [b["model"] for b in members if b is not a and _dominates(b, a, metric)]
            rows.append({"dataset": ds, "scale": scale, "protocol": protocol, "precision": precision, **a,
                         "pareto_optimal": not by, "dominated_by": by})
    return rows


def _dominates(b: dict, a: dict, metric: str) -> bool:
    ge = b[metric] >= a[metric] and b["macs_g"] <= a["macs_g"] and b["params"] <= a["params"]
    return ge and (b[metric] > a[metric] or b["macs_g"] < a["macs_g"] or b["params"] < a["params"])


__all__ = ["TRADEOFF_SETS", "tradeoff_metrics", "tradeoff_table", "parse_amount", "pareto_table"]
