"""The Ray executor (optional extra ``srbench[ray]``): (plan, image-shard) tasks on a Ray cluster.

- The plan goes to the object store once per plan; each shard is one task with ``num_cpus=1`` (and
  ``num_gpus=1`` when the plan runs on CUDA), evaluated by :func:`srbench.engine.evaluate_shard`.
- Images are read by the workers from the paths the driver sees (a shared filesystem), or, with
  ``ship_images``, sent through the object store and written to a temporary folder on the worker.
- A worker that dies has its task retried by Ray (``max_retries``); the driver receives each shard's
  records once, so nothing is lost or counted twice. Results, journals and locks stay with the driver.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from .errors import SrbenchError

log = logging.getLogger(__name__)

MAX_RETRIES = 3


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SrbenchError("--executor ray needs Ray: pip install 'srbench[ray]' (ray==2.60.0)") from None
    return ray


def _unit(plan, shard, files):
    """The task body: the per-image unit, with shipped files materialised locally when given."""
    import tempfile

    from .engine import evaluate_shard

    if not files:
        return evaluate_shard(plan, shard)
    with tempfile.TemporaryDirectory(prefix="srbench-ray-") as tmp:
        local = {}
        for i, (path, data) in enumerate(files.items()):
            dst = Path(tmp) / f"{i}_{Path(path).name}"
            dst.write_bytes(data)
            local[path] = dst
        shard = [replace(s, hr_path=local[str(s.hr_path)],
                         lr_paths={k: local[str(v)] for k, v in s.lr_paths.items() if str(v) in local})
                 for s in shard]
        if plan.source.provides_sr:
            plan = replace(plan, source=replace(plan.source, files={
                k: local[str(v)] for k, v in plan.source.files.items() if str(v) in local}))
        return evaluate_shard(plan, shard)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, ship_images: bool = False):
        ray = _import_ray()
        self.ray = ray
        self.ship_images = ship_images
        self._started = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:  # a local cluster of this machine's cores
                    ray.init(num_cpus=workers or os.cpu_count(), **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise SrbenchError(f"cannot start or reach the Ray cluster at {address or 'this machine'}: {exc}") from None
            self._started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._remote = ray.remote(max_retries=MAX_RETRIES)(_unit)
        self._plan_refs: dict[str, object] = {}

    def shard_size(self, n_images: int, device: str = "cpu") -> int:
        from .executors import shard_size

        return shard_size(device)

    def _files(self, plan, shard) -> dict:
        if not self.ship_images:
            return {}
        paths = [s.hr_path for s in shard] + [p for s in shard for p in s.lr_paths.values()]
        if plan.source.provides_sr:
            paths += [plan.source.files[s.name] for s in shard]
        return {str(p): Path(p).read_bytes() for p in paths}

    def map(self, plan, shards):
        ray = self.ray
        ref = self._plan_refs.get(plan.run_id)
        if ref is None:
            from .executors import _check_picklable

            _check_picklable(plan)
            ref = self._plan_refs[plan.run_id] = ray.put(plan)
        options = {"num_cpus": 1, "num_gpus": 1 if plan.device.startswith("cuda") else 0}
        pending = [self._remote.options(**options).remote(ref, shard, self._files(plan, shard)) for shard in shards]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    yield ray.get(done[0])
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, SrbenchError):  # the unit's own one-line error
                        raise SrbenchError(str(cause)) from None
                    raise
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
                    raise SrbenchError(f"a Ray worker died {MAX_RETRIES + 1} times on one shard ({type(exc).__name__}); "
                                       "rerun with --resume to continue") from None
        finally:
            for r in pending:
                ray.cancel(r)

    def close(self) -> None:
        self._plan_refs.clear()
        if self._started:
            self.ray.shutdown()
