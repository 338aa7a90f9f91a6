"""The per-image unit: :func:`evaluate_shard` is a pure, picklable function of (plan, images)
returning one record per image (models and metric networks are built once per process, threads pinned
to :data:`srbench.sources.inference.EVAL_THREADS`). Executors map it over shards.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

from srbench.errors import SrbenchError
from srbench.eval.plan import Plan
from srbench.protocol import pipeline
from srbench.sources.inference import EVAL_THREADS, torch_threads
from srbench.sources.runners import make_runner


class _Runtime:
    """What one process builds once per plan: the model runner and the metric implementations."""

    def __init__(self, plan: Plan):
        self.runner = None if plan.source.provides_sr else make_runner(
            plan.source, plan.scale, plan.device, plan.precision, plan.tile, plan.tile_overlap)
        self.metrics = [(m.name, m.build(plan.device)) for m in plan.metrics]


_RUNTIMES: OrderedDict[str, _Runtime] = OrderedDict()


def runtime_for(plan: Plan) -> _Runtime:
    """The runner and metric implementations of ``plan`` in this process (built on first use)."""
    rt = _RUNTIMES.get(plan.run_id)
    if rt is None:
        while len(_RUNTIMES) >= 2:  # keep memory bounded: only the latest plans stay built
            _RUNTIMES.popitem(last=False)
        rt = _RUNTIMES[plan.run_id] = _Runtime(plan)
    _RUNTIMES.move_to_end(plan.run_id)
    return rt


def process_image(plan: Plan, sample, runtime: _Runtime | None = None):
    """One image through the pipeline: (record without metric values, Prepared pair, SR uint8)."""
    rt = runtime or runtime_for(plan)
    p, s, io = plan.protocol, plan.scale, plan.source.io
    t0 = time.perf_counter()
    loaded = pipeline.load(p, sample, s, io.same_size)
    t1 = time.perf_counter()
    if plan.source.provides_sr:
        from srbench.imaging.io import decode_image

        sr, lr_source, forward = decode_image(plan.source.files[sample.name]).pixels, "sr-file", 0.0
    else:
        lr, lr_source = pipeline.make_lr(p, loaded, sample, s, io.same_size,
                                         Path(plan.lr_cache_dir) if plan.lr_cache_dir else None)
        t1 = time.perf_counter()
        sr, forward = pipeline.super_resolve(p, io, rt.runner, lr, s, f"model '{plan.label}' on {sample.name}",
                                             loaded.gray)
    sr = pipeline.check_sr(p, sr, loaded, f"model '{plan.label}'")
    t2 = time.perf_counter()
    pair = pipeline.prepare(p, s, sample.name, sr, loaded.hr, loaded.gray, plan.needs)
    rec = {"name": sample.name, "gray": loaded.gray, "lr": lr_source,
           "dtype": "uint8 (SR file)" if rt.runner is None else rt.runner.dtype()}
    if loaded.alpha_dropped:
        rec["alpha_dropped"] = True
    rec["time_ms"] = {"load": _ms(t1 - t0), "forward": _ms(forward), "sr": _ms(t2 - t1),
                      "prepare": _ms(time.perf_counter() - t2)}
    return rec, pair, sr


def _ms(seconds: float) -> float:
    return round(1000.0 * seconds, 3)


def evaluate_shard(plan: Plan, samples) -> list[dict]:
    """The per-image unit over a shard: one record per image, metrics batched over the shard."""
    import math

    with torch_threads(EVAL_THREADS):
        rt = runtime_for(plan)
        records, pairs = [], []
        for sample in samples:
            rec, pair, sr = process_image(plan, sample, rt)
            if plan.images_dir is not None:
                _save_sr(plan, sample, sr)
            records.append(rec)
            pairs.append(pair)
        for name, metric in rt.metrics:
            t0 = time.perf_counter()
            try:
                values = metric.batch_details(pairs)
            except SrbenchError as exc:
                where = pairs[0].name if len(pairs) == 1 else f"one of {', '.join(p.name for p in pairs)}"
                raise SrbenchError(f"{name} on {where}: {exc}") from None
            for rec, (v, extra) in zip(records, values):
                rec.update(extra)
                v = float(v)
                if math.isnan(v) or (math.isinf(v) and not (name.startswith("psnr") and v > 0)):
                    raise SrbenchError(f"{name} of {plan.label} on {rec['name']} is {v}: not a score "
                                       "(a flat or degenerate image?)")
                rec[name] = v
            share = _ms((time.perf_counter() - t0) / max(len(records), 1))
            for rec in records:
                rec["time_ms"][name] = share
    return records


def _save_sr(plan: Plan, sample, sr) -> None:
    from srbench.imaging.io import write_png

    folder = Path(plan.images_dir) / plan.stem
    write_png(sr, folder / f"{sample.stem}.png")
