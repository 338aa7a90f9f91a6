"""Phase three: the result document of a plan from its per-image records (each metric's
``aggregate``, efficiency, provenance).
"""

from __future__ import annotations

import logging
import statistics
import time

from srbench.errors import SrbenchError
from srbench.eval.plan import Plan
from srbench.metrics.registry import get_metric, metric_notes
from srbench.protocol import pipeline
from srbench.sources.inference import EVAL_THREADS
from srbench.store.results import (
    SCHEMA_VERSION,
    environment,
)

log = logging.getLogger(__name__)


def aggregate(plan: Plan, records: list[dict], started: float | None = None, command: str | None = None) -> dict:
    """The result document of a plan from one record per image (in the set's order)."""
    by_name = {r["name"]: r for r in records}
    missing = [s.name for s in plan.samples if s.name not in by_name]
    if missing:
        raise SrbenchError(f"internal: {len(missing)} image(s) have no record ({', '.join(missing[:3])})")
    records = [by_name[s.name] for s in plan.samples]
    card, ds = plan.source.card, plan.dataset
    metrics = {m.name: get_metric(m.name).reduce([r[m.name] for r in records]) for m in plan.metrics}
    info = {}
    for m in plan.metrics:
        spec = get_metric(m.name)
        info[m.name] = {**spec.to_dict(m.settings), "input": pipeline.input_description(plan.protocol, spec, plan.scale)}
        info[m.name].update(metric_notes(m.name, records))
        if "note" in info[m.name]:
            log.warning("%s on %s: %s %s", plan.label, ds.card.name, m.name, info[m.name]["note"])
    lr_counts: dict[str, int] = {"shipped": 0, "generated": 0, "cached": 0}
    for r in records:
        lr_counts[r["lr"]] = lr_counts.get(r["lr"], 0) + 1
    forward = [r["time_ms"]["forward"] for r in records]
    complexity = _complexity(plan)
    timings = {k: round(sum(r["time_ms"].get(k, 0.0) for r in records) / 1000.0, 3)
               for k in ("load", "forward", "sr", "prepare", *plan.metric_names)}
    if started is not None:
        timings["total"] = round(time.perf_counter() - started, 3)
    return {
        "schema_version": SCHEMA_VERSION,
        "identity_key": plan.key,
        "model": plan.label,
        "model_title": card.title if card is not None else plan.label,
        "dataset": ds.card.name,
        "dataset_title": ds.card.title,
        "scale": plan.scale,
        "protocol": plan.protocol.to_dict(),
        "metrics": metrics,
        "metric_info": info,
        "metrics_unavailable": plan.unavailable,
        "n_images": len(records),
        "images": records,
        "complexity": complexity,
        "efficiency": {
            "params": (complexity or {}).get("params"),
            "macs_g": (complexity or {}).get("macs_g"),
            "convention": (complexity or {}).get("convention"),
            "forward_ms": _stats(forward) if not plan.source.provides_sr else None,
            **_device_info(plan.device),
        },
        "published": [r for r in (card.published if card is not None else ())
                      if r["dataset"] == ds.card.name and r["scale"] == plan.scale],
        "identity": plan.identity,
        "provenance": {
            **environment(),
            "device": plan.device,
            "dtype": records[0]["dtype"] if records else None,
            "precision": plan.precision,
            "eval_threads": EVAL_THREADS,
            "tile": plan.tile,
            "tile_overlap": plan.tile_overlap if plan.tile else None,
            "io": plan.source.io.to_dict(),
            "weights": plan.source.weights(plan.scale),
            "quantization": getattr(plan.source, "recipe", None),
            "metric_assets": plan.metric_assets,
            "dataset": {"root": str(ds.root), "layout": ds.layout, "n_images": len(ds.samples), "limit": plan.limit,
                        "complete": len(records) == len(ds.samples) and "incomplete" not in plan.identity["dataset"],
                        **({"incomplete": plan.identity["dataset"]["incomplete"]}
                           if "incomplete" in plan.identity["dataset"] else {}),
                        "fingerprint": plan.identity["dataset"]["fingerprint"],
                        **{k: plan.manifest[k] for k in ("manifest", "verified")}, "lr": lr_counts,
                        "alpha_dropped": sum(1 for r in records if r.get("alpha_dropped"))},
            "command": command,
        },
        "timings_s": timings,
    }


def _stats(values: list[float]) -> dict | None:
    if not values:
        return None
    qs = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"n": len(values), "mean": round(statistics.fmean(values), 3), "median": round(qs[1], 3),
            "p25": round(qs[0], 3), "p75": round(qs[2], 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def _device_info(device: str) -> dict:
    import torch

    from srbench.cost.runtime import timing_environment

    env = timing_environment(torch.device(device), EVAL_THREADS)
    if device.startswith("cuda"):
        env["threads"] = None
    return env


def _complexity(plan: Plan) -> dict | None:
    """Params and Mult-Adds (hr720) for card models and torch modules; None for callables and folders."""
    from srbench.cost.complexity import card_complexity, profile_module

    try:
        if plan.source.card is not None:
            return card_complexity(plan.source.card, plan.scale)
        module = getattr(plan.source, "module", None)
        if module is not None:
            return profile_module(module, plan.scale, plan.source.io, convention="hr720")
    except SrbenchError:
        raise
    except Exception as exc:  # counting is informative; never lose a run over it
        log.warning("complexity of %s x%d not counted: %s", plan.label, plan.scale, exc)
    return None
