"""Executors map the per-image unit (:func:`srbench.engine.evaluate_shard`) over shards of images.

They never write results: the caller is the one writer of journals and result files, so Ctrl-C,
``--resume`` and locking behave the same whatever runs the images.

- ``local``: in this process, shard after shard.
- ``process``: a pool of worker processes on this machine (spawned, so no state is inherited; each
  evaluates with a fixed torch thread count, so values equal the in-process ones bit for bit).
- ``ray``: tasks on a Ray cluster (:mod:`srbench.ray_executor`, optional extra ``srbench[ray]``).
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .errors import SrbenchError


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def shard_size(device: str) -> int:
    """Images per unit call: one on the CPU (each image reaches the journal as soon as it is done),
    a few on a GPU, where network metrics (LPIPS) batch same-size images."""
    return 8 if device.startswith("cuda") else 1


class LocalExecutor:
    name = "local"
    workers = 1

    def shard_size(self, n_images: int, device: str = "cpu") -> int:
        return shard_size(device)

    def map(self, plan, shards):
        from .engine import evaluate_shard

        for shard in shards:
            yield evaluate_shard(plan, shard)

    def close(self) -> None:
        pass


def _init_worker() -> None:
    # BLAS pools would otherwise start one thread per core in every worker.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


class ProcessExecutor:
    """A process pool kept for the whole command (models are built once per worker and plan)."""

    name = "process"

    def __init__(self, workers: int):
        import multiprocessing as mp

        if workers < 1:
            raise SrbenchError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        # Spawned workers inherit the environment, not the parent's threads or CUDA state.
        saved = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        _init_worker()
        try:
            self.pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
            self.pool.submit(int).result()  # start the workers while the environment is set
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value

    def shard_size(self, n_images: int, device: str = "cpu") -> int:
        return shard_size(device)

    def map(self, plan, shards):
        """Records of each shard as it completes (not in order); at most 2 shards queued per worker."""
        from .engine import evaluate_shard

        from concurrent.futures.process import BrokenProcessPool

        _check_picklable(plan)
        pending = set()
        todo = iter(shards)
        try:
            for shard in todo:
                pending.add(self.pool.submit(evaluate_shard, plan, shard))
                if len(pending) >= 2 * self.workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        yield f.result()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        except BrokenProcessPool:
            raise SrbenchError("a worker process died (out of memory? killed?); rerun with --resume to continue, "
                               "with fewer --workers or a --tile") from None
        finally:
            for f in pending:
                f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _check_picklable(plan) -> None:
    import pickle

    try:
        pickle.dumps(plan)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise SrbenchError(f"model '{plan.label}' cannot be sent to worker processes ({exc}); define it at module "
                           "level or use workers=1 (--workers 1)") from None


def make_executor(kind: str = "local", workers: int | None = None, ray_address: str | None = None,
                  ship_images: bool = False):
    if kind == "local" or (kind == "process" and workers == 1):
        return LocalExecutor()
    if kind == "process":
        return ProcessExecutor(workers or usable_cores())
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=ray_address, workers=workers, ship_images=ship_images)
    raise SrbenchError(f"unknown executor '{kind}'; use local, process or ray")
