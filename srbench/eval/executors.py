"""Executors map a per-image unit ``unit(plan, samples) -> records`` (the engine passes
:func:`srbench.eval.unit.evaluate_shard`) over shards of images.

They never write results: the caller is the one writer of journals and result files, so Ctrl-C,
``--resume`` and locking behave the same whatever runs the images.

- ``local``: in this process, shard after shard.
- ``process``: a pool of worker processes on this machine (spawned, so no state is inherited; each
  evaluates with a fixed torch thread count, so values equal the in-process ones bit for bit).
- ``ray``: (plan, image-shard) tasks on a Ray cluster (optional extra ``srbench[ray]``). The plan goes
  to the object store once per plan; each shard is one task with ``num_cpus=1`` (and ``num_gpus=1``
  when the plan runs on CUDA). Images are read by the workers from the paths the driver sees (a shared
  filesystem), or, with ``ship_images``, sent through the object store and written to a temporary
  folder on the worker. A worker that dies has its task retried by Ray (``max_retries``); the driver
  receives each shard's records once, so nothing is lost or counted twice.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Protocol

from srbench.errors import SrbenchError
from srbench.registry import Registry


class Executor(Protocol):
    """What maps the per-image unit over shards of a plan's images (yielding each shard's records, in
    any order); built by :func:`make_executor` from its registry name with ``create``."""

    name: str
    workers: int

    @classmethod
    def create(cls, *, workers: int, ray_address: str | None, ship_images: bool) -> Executor: ...

    def shard_size(self, n_images: int, device: str = "cpu") -> int: ...

    def map(self, unit, plan, shards) -> Iterator[list[dict]]: ...

    def close(self) -> None: ...


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

    @classmethod
    def create(cls, *, workers: int, ray_address: str | None, ship_images: bool) -> LocalExecutor:
        return cls()

    def shard_size(self, n_images: int, device: str = "cpu") -> int:
        return shard_size(device)

    def map(self, unit, plan, shards):
        for shard in shards:
            yield unit(plan, shard)

    def close(self) -> None:
        pass


def _init_worker(driver_pid: int | None = None) -> None:
    # BLAS pools would otherwise start one thread per core in every worker.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    if driver_pid is not None:
        die_with_parent(driver_pid)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when its driver dies (SIGTERM, SIGKILL, a crash): an orphaned
    worker would hold its memory and the caller's pipes. Linux only (prctl); elsewhere a no-op."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the driver died before prctl took effect
        os._exit(1)


class ProcessExecutor:
    """A process pool kept for the whole command (models are built once per worker and plan)."""

    name = "process"

    @classmethod
    def create(cls, *, workers: int, ray_address: str | None, ship_images: bool) -> ProcessExecutor:
        return cls(workers)

    def __init__(self, workers: int):
        import multiprocessing as mp

        if workers < 1:
            raise SrbenchError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        # Spawned workers inherit the environment, not the parent's threads or CUDA state.
        saved = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        _init_worker()
        try:
            self.pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                            initargs=(os.getpid(),))
            self.pool.submit(int).result()  # start the workers while the environment is set
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value

    def shard_size(self, n_images: int, device: str = "cpu") -> int:
        return shard_size(device)

    def map(self, unit, plan, shards):
        """Records of each shard as it completes (not in order); at most 2 shards queued per worker."""
        from concurrent.futures.process import BrokenProcessPool

        _check_picklable(plan)
        pending = set()
        todo = iter(shards)
        try:
            for shard in todo:
                pending.add(self.pool.submit(unit, plan, shard))
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


# ---------------------------------------------------------------------------------------------
# Ray

MAX_RETRIES = 3
RAY_CONNECT_TIMEOUT = 10  # seconds for a Ray head at HOST:PORT to accept a connection


def _probe_ray_address(address: str) -> None:
    """A HOST:PORT that does not answer fails now, in seconds (``ray.init`` would retry forever)."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SrbenchError(f"bad --ray-address '{address}': use auto or HOST:PORT, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise SrbenchError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one there "
                           "('ray start --head') or leave out --ray-address for a local cluster") from None


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SrbenchError("--executor ray needs Ray: pip install 'srbench[ray]' (ray==2.60.0)") from None
    # Ray configures its own loggers when imported; its start-up notes (e.g. the token-authentication
    # notice) are shown only when srbench itself is verbose (-v).
    verbose = logging.getLogger("srbench").isEnabledFor(logging.DEBUG)
    logging.getLogger("ray").setLevel(logging.DEBUG if verbose else logging.ERROR)
    return ray


def _task(unit, plan, shard, files):
    """The task body: the per-image unit, with shipped files materialised locally when given."""
    import tempfile

    if not files:
        return unit(plan, shard)
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
        return unit(plan, shard)


class RayExecutor:
    name = "ray"

    @classmethod
    def create(cls, *, workers: int, ray_address: str | None, ship_images: bool) -> RayExecutor:
        return cls(address=ray_address, workers=workers, ship_images=ship_images)

    def __init__(self, address: str | None = None, workers: int | None = None, ship_images: bool = False):
        ray = _import_ray()
        self.ray = ray
        self.ship_images = ship_images
        self._started = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            try:
                if address:
                    _probe_ray_address(address)
                    ray.init(address=address, **kwargs)
                else:  # a local cluster of this machine's cores
                    ray.init(num_cpus=workers or os.cpu_count(), **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise SrbenchError(f"cannot start or reach the Ray cluster at {address or 'this machine'}: {exc}") from None
            self._started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._remote = ray.remote(max_retries=MAX_RETRIES)(_task)
        self._plan_refs: dict[str, object] = {}

    def shard_size(self, n_images: int, device: str = "cpu") -> int:
        return shard_size(device)

    def _files(self, plan, shard) -> dict:
        if not self.ship_images:
            return {}
        paths = [s.hr_path for s in shard] + [p for s in shard for p in s.lr_paths.values()]
        if plan.source.provides_sr:
            paths += [plan.source.files[s.name] for s in shard]
        return {str(p): Path(p).read_bytes() for p in paths}

    def map(self, unit, plan, shards):
        ray = self.ray
        ref = self._plan_refs.get(plan.run_id)
        if ref is None:
            _check_picklable(plan)
            ref = self._plan_refs[plan.run_id] = ray.put(plan)
        options = {"num_cpus": 1, "num_gpus": 1 if plan.device.startswith("cuda") else 0}
        pending = [self._remote.options(**options).remote(unit, ref, shard, self._files(plan, shard)) for shard in shards]
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


def make_executor(kind: str | None = None, workers: int | None = None, ray_address: str | None = None,
                  ship_images: bool = False) -> Executor:
    """The one rule for every caller (CLI, API, sweep): ``workers`` None -> every usable core; ``kind``
    None -> ``process`` with more than one worker, else ``local`` (a pool of one is in-process)."""
    workers = usable_cores() if workers is None else int(workers)
    if workers < 1:
        raise SrbenchError(f"--workers must be at least 1, got {workers}")
    kind = kind or ("process" if workers > 1 else "local")
    if kind not in EXECUTORS:
        raise SrbenchError(f"unknown executor '{kind}'; use {', '.join(EXECUTORS.names())}")
    if (ray_address or ship_images) and kind != "ray":
        raise SrbenchError("--ray-address and --ray-ship-images go with --executor ray")
    if kind == "process" and workers == 1:
        kind = "local"
    return EXECUTORS.get(kind).create(workers=workers, ray_address=ray_address, ship_images=ship_images)


EXECUTORS: Registry = Registry("executor")
EXECUTORS.register("local", LocalExecutor)
EXECUTORS.register("process", ProcessExecutor)
EXECUTORS.register("ray", RayExecutor)
