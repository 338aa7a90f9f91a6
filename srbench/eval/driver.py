"""The driver: :func:`run_plan` maps the unit over shards with an executor and is the one writer
of the journal and the result file; :func:`evaluate` is the Python API over plan -> unit -> aggregate.
"""

from __future__ import annotations

import time
from pathlib import Path

from srbench.errors import SrbenchError
from srbench.eval.aggregate import aggregate
from srbench.eval.plan import Plan, lr_cache_dir, make_plan
from srbench.eval.unit import evaluate_shard
from srbench.store.results import (
    ResultStore,
)


def shards(samples: list, size: int) -> list[list]:
    return [samples[i:i + size] for i in range(0, len(samples), size)]


def complete(doc: dict, plan: Plan) -> bool:
    """A finished result usable as it is for this plan."""
    return (doc.get("identity_key") == plan.key and doc.get("n_images") == len(plan.samples)
            and all(m in doc.get("metrics", {}) for m in plan.metric_names))


def run_plan(plan: Plan, *, out_dir=None, resume: bool = False, executor=None, on_images=None,
             command: str | None = None, shard_size: int | None = None) -> dict:
    """Evaluate a plan. With ``out_dir``: one writer (lock), a journal that survives interruption,
    ``resume`` reusing a finished result or the journal's valid records. ``on_images(n)`` reports
    progress; ``executor`` defaults to in-process."""
    from srbench.eval.executors import LocalExecutor

    executor = executor or LocalExecutor()
    started = time.perf_counter()
    names = {s.name for s in plan.samples}
    if out_dir is None:
        records = _run(plan, plan.samples, executor, shard_size, on_images, None)
        return aggregate(plan, records, started, command)
    if plan.identity["model"].get("kind") == "callable" and resume:
        raise SrbenchError(f"model '{plan.label}' is a callable without a fingerprint: its results cannot be resumed")
    with ResultStore(Path(out_dir), plan.stem, plan.identity, plan.key) as store:
        done: dict[str, dict] = {}
        if resume:
            doc = store.finished()
            if doc is not None and complete(doc, plan):
                if on_images:
                    on_images(len(plan.samples))
                return doc
            done = store.journal.load(names, plan.metric_names)
        store.journal.start([done[s.name] for s in plan.samples if s.name in done])
        if on_images and done:
            on_images(len(done))
        todo = [s for s in plan.samples if s.name not in done]
        records = list(done.values()) + _run(plan, todo, executor, shard_size, on_images, store.journal)
        doc = aggregate(plan, records, started, command)
        store.write(doc)
        return doc


def _run(plan: Plan, samples: list, executor, shard_size, on_images, journal) -> list[dict]:
    out: list[dict] = []
    size = shard_size or executor.shard_size(len(samples), plan.device)
    for recs in executor.map(evaluate_shard, plan, shards(samples, size)):
        if journal is not None:
            journal.append(recs)
        out.extend(recs)
        if on_images:
            on_images(len(recs))
    return out


def evaluate(model, dataset, scale: int | None = None, *, protocol: str | None = None, metrics=None,
             data_root=None, device: str = "cpu", precision: str = "fp32", tile: int | None = None,
             tile_overlap: int = 0, limit: int | None = None, label: str | None = None, io=None,
             out_dir=None, resume: bool = False, save_images: bool = False, workers: int = 1,
             executor=None, progress: bool = False, command: str | None = None,
             calibration: dict | None = None, allow_incomplete: bool = False) -> dict:
    """Evaluate ``model`` on ``dataset`` at ``scale``; returns the result document (see README).

    ``model``: a zoo name, a card file (``.toml``), ``"module:builder"``, a ``torch.nn.Module``
    (``io`` declares its convention: RGB, values in [0, 1], s x the input size by default) or any
    callable mapping an LR uint8 HxWx3 array to an SR array (uint8, or floats in [0, 255]).
    ``dataset``: a set name or ``folder:PATH``. Nothing is written unless ``out_dir`` is given.
    ``calibration``: with ``precision="int8"``, as the CLI's ``--calibration-set``/``--int8-recipe``
    (keys ``set``, ``images``, ``patch``, ``patches``, ``recipe``).
    ``allow_incomplete``: score a set copy that is not the whole set as a labelled subset (see :func:`make_plan`).
    """
    from srbench.eval.executors import make_executor
    from srbench.eval.progress import progress_bar

    plan = make_plan(model, dataset, scale, protocol=protocol, metrics=metrics, data_root=data_root, device=device,
                     precision=precision, tile=tile, tile_overlap=tile_overlap, limit=limit, label=label, io=io,
                     calibration=calibration, lr_cache_dir=lr_cache_dir() if out_dir is not None else None,
                     allow_incomplete=allow_incomplete,
                     images_dir=Path(out_dir) / "images" if (save_images and out_dir is not None) else None)
    own = executor is None
    executor = executor or make_executor(workers=workers)
    desc = f"{plan.label} {plan.dataset.card.name} x{plan.scale}"
    try:
        with progress_bar(len(plan.samples), desc=desc, enabled=progress) as bar:
            return run_plan(plan, out_dir=out_dir, resume=resume, executor=executor, on_images=bar.update,
                            command=command)
    finally:
        if own:
            executor.close()
