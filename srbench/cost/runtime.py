"""Runtime and peak memory of a model's forward pass, by two named methods.

``ntire`` copies the NTIRE efficient-SR challenges' ``test_demo.py``: batch 1, each full-size image
moved to the device first (not timed), then only ``model(x)`` timed, without warm-up; on CUDA between
two ``torch.cuda.Event``s followed by ``torch.cuda.synchronize()``, on CPU with ``time.perf_counter``;
``cudnn.benchmark = False``; the figure is the mean of the per-image milliseconds. Peak memory on
CUDA is ``torch.cuda.max_memory_allocated()`` read once after the whole set, never reset between
images (srbench resets it once before the set, which is what the challenge's fresh process starts
from), so it includes the weights and the input.

``clean`` is a controlled measurement: a fixed number of threads, ``warmup`` forwards per image, then
``torch.utils.benchmark.Timer(...).blocked_autorange`` (at least ``min_repeats`` measurements), whose
median and interquartile range are reported per image; the set figure is the mean of the per-image
medians (and of the per-image IQRs). On CUDA the peak memory counter is reset before each image and
the largest peak kept.

Peak memory on CPU (both methods) is the process's peak resident-memory increase during one forward,
measured in a separate, untimed forward per image (the largest is kept): glibc's free memory is
returned to the system first (``malloc_trim(0)``), the kernel's peak-RSS mark is reset
(``echo 5 > /proc/self/clear_refs``, Linux 4.0+), and the increase is ``VmHWM`` after the forward
minus ``VmRSS`` before it, both from ``/proc/self/status``: the kernel tracks the peak, so no
sampling can miss it (its counters are batched per CPU, so the figure is exact to a few hundred KiB).
Where that interface does not exist the figure is reported as unavailable.

Every result records the device name, thread count, torch/CUDA/cuDNN versions, ``cudnn.benchmark``
and the TF32 flags. :func:`time_forward` times one LR tensor (for the evaluation engine);
:func:`time_set` a list of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import platform
import time
from pathlib import Path

import torch

from srbench.errors import SrbenchError

METHODS = ("ntire", "clean")
MIB = 1024**2
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timing_environment(device: torch.device, threads: int) -> dict:
    """What a timing depends on, recorded next to every figure."""
    cudnn = torch.backends.cudnn
    return {
        "device": str(device),
        "device_name": device_name(device),
        "threads": threads,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": cudnn.version() if cudnn.is_available() else None,
        "cudnn_benchmark": cudnn.benchmark,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": cudnn.allow_tf32,
        "fp32_precision_matmul": getattr(torch.backends.cuda.matmul, "fp32_precision", None),
        "fp32_precision_cudnn_conv": getattr(getattr(cudnn, "conv", None), "fp32_precision", None),
    }


# --- CPU peak resident memory --------------------------------------------------------------------

def _status_bytes(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise KeyError(key)


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        if hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)


def rss_peak_available() -> bool:
    """True where the kernel's peak-RSS mark can be reset and read (Linux /proc)."""
    try:
        _CLEAR_REFS.write_text("5")
        _status_bytes("VmHWM")
        return True
    except (OSError, KeyError):
        return False


def rss_increase(fn) -> int:
    """Peak resident-memory increase (bytes) of the process while ``fn()`` runs."""
    gc.collect()
    _malloc_trim()
    _CLEAR_REFS.write_text("5")  # the peak mark (VmHWM) restarts at the current RSS
    before = _status_bytes("VmRSS")
    fn()
    return max(0, _status_bytes("VmHWM") - before)


CPU_MEMORY_KIND = ("peak resident-memory increase during one untimed forward after the timing "
                   "(VmHWM after - VmRSS before), largest over the images")


def cpu_peak_memory(model: torch.nn.Module, inputs: list[torch.Tensor]) -> tuple[float | None, str]:
    """(MiB or None, how it was measured): the largest peak resident-memory increase of one forward
    of ``model`` (on CPU) over ``inputs``."""
    if not rss_peak_available():
        return None, "unavailable: needs Linux /proc/self/clear_refs to reset the peak-RSS mark"
    with torch.no_grad():
        peak = max(rss_increase(lambda x=x: model(x.to("cpu"))) for x in inputs)
    return peak / MIB, CPU_MEMORY_KIND


# --- timing ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _settings(threads: int, cudnn_benchmark: bool = False):
    from srbench.sources.inference import torch_threads

    prior_bench = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = cudnn_benchmark
    try:
        with torch_threads(threads):
            yield
    finally:
        torch.backends.cudnn.benchmark = prior_bench


def _check(method: str, device: torch.device) -> None:
    if method not in METHODS:
        raise SrbenchError(f"unknown runtime method '{method}': use {' or '.join(METHODS)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SrbenchError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise SrbenchError(f"runtime on device '{device}' is not supported: use cpu or cuda")


def _ntire(model, inputs, device) -> tuple[list[float], float | None]:
    per_image = []
    cuda = device.type == "cuda"
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    for lr in inputs:
        x = lr.to(device)
        if cuda:
            start.record()
            model(x)
            end.record()
            torch.cuda.synchronize(device)
            per_image.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            model(x)
            per_image.append((time.perf_counter() - t0) * 1e3)
        del x
    peak = torch.cuda.max_memory_allocated(device) / MIB if cuda else None
    return per_image, peak


def _benchmark_module():
    """``torch.utils.benchmark``, imported without its import-time warning about C++ extension builds
    ("No CUDA runtime is found, using CUDA_HOME=..." on a CPU-only machine): srbench compiles nothing."""
    import logging

    ext_log = logging.getLogger("torch.utils.cpp_extension")
    level = ext_log.level
    ext_log.setLevel(logging.ERROR)
    try:
        import torch.utils.benchmark as benchmark
    finally:
        ext_log.setLevel(level)
    return benchmark


def _clean(model, inputs, device, threads, warmup, min_run_time, min_repeats):
    benchmark = _benchmark_module()
    Measurement, Timer = benchmark.Measurement, benchmark.Timer

    medians, iqrs, peak = [], [], None
    cuda = device.type == "cuda"
    for lr in inputs:
        x = lr.to(device)
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warmup):
            model(x)
        timer = Timer(stmt="model(x)", globals={"model": _NoGrad(model), "x": x}, num_threads=threads)
        m = timer.blocked_autorange(min_run_time=min_run_time)
        while len(m.times) < min_repeats:
            m = Measurement.merge([m, timer.timeit(1)])[0]
        medians.append(m.median * 1e3)
        iqrs.append(m.iqr * 1e3)
        if cuda:
            peak = max(peak or 0.0, torch.cuda.max_memory_allocated(device) / MIB)
        del x
    return medians, iqrs, peak


class _NoGrad:
    """``model(x)`` under ``torch.no_grad()`` in whatever thread the timer runs it."""

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        with torch.no_grad():
            return self.model(x)


def time_set(model: torch.nn.Module, inputs: list[torch.Tensor], device: str | torch.device = "cpu",
             method: str = "clean", threads: int | None = None, memory: bool = False, warmup: int = 2,
             min_run_time: float = 1.0, min_repeats: int = 5) -> dict:
    """Time ``model`` on each LR tensor of ``inputs`` (1 x C x h x w, the model's dtype) by ``method``.

    The model is moved to ``device`` in place. ``threads`` defaults to torch's current setting.
    Returns milliseconds per image and for the set, the peak memory (MiB) when ``memory`` (always on
    CUDA, where it costs nothing) and the timing environment. JSON-serialisable.
    """
    device = torch.device(device)
    _check(method, device)
    threads = threads or torch.get_num_threads()
    if not inputs:
        raise SrbenchError("no input to time")
    model = model.eval().to(device)
    with _settings(threads), torch.no_grad():
        env = timing_environment(device, threads)
        if method == "ntire":
            per_image, peak = _ntire(model, inputs, device)
            out = {"ms": sum(per_image) / len(per_image), "per_image_ms": per_image, "iqr_ms": None,
                   "per_image_iqr_ms": None}
        else:
            per_image, iqrs, peak = _clean(model, inputs, device, threads, warmup, min_run_time, min_repeats)
            out = {"ms": sum(per_image) / len(per_image), "per_image_ms": per_image,
                   "iqr_ms": sum(iqrs) / len(iqrs), "per_image_iqr_ms": iqrs}
        memory_kind = None
        if device.type == "cuda":
            memory_kind = ("torch.cuda.max_memory_allocated after the set, not reset between images" if method == "ntire"
                           else "torch.cuda.max_memory_allocated, reset before each image, largest kept")
        elif memory:
            peak, memory_kind = cpu_peak_memory(model, inputs)
    return {"method": method, **out, "images": len(inputs), "peak_memory_mib": peak, "memory_kind": memory_kind,
            "warmup": 0 if method == "ntire" else warmup, "environment": env}


def time_forward(model: torch.nn.Module, x: torch.Tensor, device: str | torch.device = "cpu", method: str = "clean",
                 threads: int | None = None, memory: bool = False, **kwargs) -> dict:
    """:func:`time_set` on one LR tensor (the evaluation engine's per-image hook)."""
    return time_set(model, [x], device, method, threads, memory, **kwargs)


__all__ = ["METHODS", "timing_environment", "rss_peak_available", "rss_increase", "cpu_peak_memory", "time_set",
           "time_forward"]
