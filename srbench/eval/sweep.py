"""``srbench sweep PLAN.toml``: models x sets x scales x protocols x metrics as one resumable job.

A plan file (validated; unknown keys are errors)::

    out = "leaderboards/results"              # result files (resumed: finished results are kept)

    [[runs]]                                  # each run table expands to the product of its lists
    models = ["bicubic", "imdn"]
    sets = ["set5", "set14"]
    scales = "supported"                      # or a list; "supported" = every scale a model has
    protocols = ["matlab", "paper"]           # "paper" = each model's own protocol
    metrics = ["psnr", "ssim", "lpips", "niqe"]
    precision = "fp32"                        # or fp16, bf16, int8 (with calibration = {set, images, recipe})

    [leaderboard]                             # optional, after the runs: srbench leaderboard
    out = "leaderboards"

    [baseline]                                # optional: srbench baseline of selected results
    out = "leaderboards/baselines/ci-set5.json"
    dataset = "set5"
    protocol = "matlab"

    [[compare_visual]]                        # optional: srbench compare-visual panels
    set = "urban100"
    image = "img_092"
    models = ["bicubic", "imdn"]
    box = "520,210,200,150"
    scale = 4
    out = "leaderboards/plots/compare_urban100_img_092_x4.png"

Every plan is made (and so validated) before anything runs; results then go through the chosen
executor one plan after another, each with its own lock and journal, so an interrupted sweep
continues where it stopped.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from srbench.errors import SrbenchError

log = logging.getLogger(__name__)

RUN_KEYS = {"models", "sets", "scales", "protocols", "metrics", "limit", "precision", "calibration"}
TOP_KEYS = {"out", "runs", "leaderboard", "baseline", "compare_visual", "data_root"}
LEADERBOARD_KEYS = {"out", "plots"}
BASELINE_KEYS = {"out", "dataset", "protocol", "precision"}
COMPARE_KEYS = {"set", "image", "models", "box", "scale", "protocol", "metrics", "out"}


@dataclass
class SweepPlan:
    path: Path
    out: Path
    runs: list[dict]
    data_root: str | None = None
    leaderboard: dict | None = None
    baseline: dict | None = None
    compare_visual: list[dict] = field(default_factory=list)


def _check(where: str, table, keys: set, required: tuple = ()) -> dict:
    if not isinstance(table, dict):
        raise SrbenchError(f"{where}: expected a table")
    unknown = sorted(set(table) - keys)
    if unknown:
        raise SrbenchError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(keys))})")
    missing = [k for k in required if k not in table]
    if missing:
        raise SrbenchError(f"{where}: lacks {', '.join(missing)}")
    return table


def _names(where: str, value) -> list:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SrbenchError(f"{where}: expected a non-empty list")
    return value


def read_plan(path) -> SweepPlan:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SrbenchError(f"{path}: no such plan file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SrbenchError(f"{path}: invalid TOML ({exc})") from None
    _check(str(path), doc, TOP_KEYS, ("out", "runs"))
    runs = doc["runs"] if isinstance(doc["runs"], list) else None
    if not runs:
        raise SrbenchError(f"{path}: 'runs' must be a non-empty list of [[runs]] tables")
    for i, r in enumerate(runs, 1):
        where = f"{path}: runs #{i}"
        _check(where, r, RUN_KEYS, ("models", "sets"))
        for k in ("models", "sets", "protocols", "metrics"):
            if k in r:
                r[k] = _names(f"{where}.{k}", r[k])
        scales = r.get("scales", "supported")
        if scales != "supported" and not (isinstance(scales, list) and scales and all(isinstance(s, int) for s in scales)):
            raise SrbenchError(f"{where}.scales: a list of integers or \"supported\"")
    base = path.parent
    plan = SweepPlan(path, base / doc["out"], runs, doc.get("data_root"))
    if "leaderboard" in doc:
        plan.leaderboard = _check(f"{path}: leaderboard", doc["leaderboard"], LEADERBOARD_KEYS, ("out",))
    if "baseline" in doc:
        plan.baseline = _check(f"{path}: baseline", doc["baseline"], BASELINE_KEYS, ("out",))
    for i, c in enumerate(doc.get("compare_visual", []), 1):
        plan.compare_visual.append(_check(f"{path}: compare_visual #{i}", c, COMPARE_KEYS,
                                          ("set", "image", "models", "box", "scale", "out")))
    return plan


def expand(sweep: SweepPlan, data_root=None) -> list:
    """Every engine plan of the sweep, in order. A cell (model, set, scale, protocol@version, precision)
    is produced once: a later run naming it again (e.g. "paper" = "matlab" for some models) is skipped,
    so a leaderboard never gets two results for one cell."""
    from srbench.eval.plan import lr_cache_dir, make_plan
    from srbench.models.registry import get_card

    plans, seen = [], set()
    for i, r in enumerate(sweep.runs, 1):
        cards = [get_card(model) for model in r["models"]]
        if r.get("scales", "supported") != "supported" and not any(s in c.scales for c in cards for s in r["scales"]):
            raise SrbenchError(f"{sweep.path}: runs #{i}: none of its models has weights at "
                               f"{', '.join(f'x{s}' for s in r['scales'])}; fix its scales")
        for model, card in zip(r["models"], cards):
            scales = card.scales if r.get("scales", "supported") == "supported" else r["scales"]
            for ds in r["sets"]:
                for scale in scales:
                    if scale not in card.scales:
                        continue  # "models x scales": a model runs at the scales it has
                    for protocol in r.get("protocols", [None]):
                        p = make_plan(model, ds, scale, protocol=protocol, metrics=r.get("metrics"),
                                      data_root=data_root or sweep.data_root, limit=r.get("limit"),
                                      precision=r.get("precision", "fp32"), calibration=r.get("calibration"),
                                      lr_cache_dir=lr_cache_dir())
                        cell = (p.label, p.dataset.card.name, scale, p.protocol.key, p.precision)
                        if cell in seen:
                            log.debug("sweep: %s %s x%d %s already planned by an earlier run", *cell[:4])
                            continue
                        seen.add(cell)
                        plans.append(p)
    return plans


def run_sweep(sweep: SweepPlan, executor, data_root=None, on_images=None, resume: bool = True) -> list[dict]:
    from srbench.eval.driver import run_plan

    plans = expand(sweep, data_root)
    log.info("%s: %d results (%d images)", sweep.path.name, len(plans), sum(len(p.samples) for p in plans))
    return [run_plan(p, out_dir=sweep.out, resume=resume, executor=executor, on_images=on_images) for p in plans]


def finish(sweep: SweepPlan, data_root=None) -> list[str]:
    """The optional steps after the runs: leaderboards, baseline, comparison panels. Returns what was written."""
    written = []
    base = sweep.path.parent
    if sweep.leaderboard:
        from srbench.models.references import catalog
        from srbench.report.leaderboard import publish
        from srbench.store.results import load_result_files

        out = base / sweep.leaderboard["out"]
        publish(load_result_files(sweep.out), out, catalog(), plots=sweep.leaderboard.get("plots") is not False)
        written.append(str(out))
    if sweep.baseline:
        written.append(_baseline(sweep))
    for c in sweep.compare_visual:
        from srbench.eval.visual import compare_visual

        listed = {k: (c[k].split(",") if k == "metrics" and isinstance(c[k], str) else c[k])
                  for k in ("protocol", "metrics") if k in c}
        compare_visual(c["set"], c["image"], list(c["models"]), c["box"], int(c["scale"]),
                       data_root=data_root or sweep.data_root, out=base / c["out"], **listed)
        written.append(str(base / c["out"]))
    return written


def _baseline(sweep: SweepPlan) -> str:
    from srbench.report.gate import gate_worthy, make_baseline
    from srbench.store.results import load_results, write_json_atomic

    b = sweep.baseline
    docs = [d for d in load_results(sweep.out)
            if (b.get("dataset") is None or d["dataset"] == b["dataset"])
            and (b.get("protocol") is None or d["protocol"]["name"] == b["protocol"])
            and d["provenance"].get("precision", "fp32") == b.get("precision", "fp32")
            and gate_worthy(d) is None]
    if not docs:
        raise SrbenchError(f"{sweep.path}: the baseline selects no results")
    out = sweep.path.parent / b["out"]
    write_json_atomic(make_baseline(docs, command=f"srbench sweep {sweep.path.name}"), out)
    return str(out)
