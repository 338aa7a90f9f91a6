"""Named int8 post-training quantisation recipes: the data that decides how a model is quantised.

A recipe is recorded whole in a result's identity (so results of two recipes never share a name) and
in its provenance. ``DEFAULT_RECIPE`` was chosen by measurement (``benchmarks/bench_int8_recipes.py``;
the table is in docs/deploy.md): the recipe with the smallest PSNR loss against fp32 over IMDN and
FSRCNN at x2 and x4 on Set5. It needs a VNNI CPU; elsewhere the default is
``PORTABLE_DEFAULT_RECIPE``.

Activation observers (per tensor, uint8):
- ``minmax``: the extremes over all calibration patches;
- ``percentile``: the ``percentile``-th and (100 - ``percentile``)-th percentiles of each batch of
  patches, averaged over the batches (outliers clipped);
- ``histogram``: torch.ao's HistogramObserver, whose range minimises the quantisation MSE of the
  calibration histogram.
Weights are int8 symmetric, per output channel or per tensor. ``reduce_range`` keeps activations to 7
bits: torch.ao's x86 (fbgemm) u8 x s8 kernels can saturate their 16-bit intermediate sums with 8-bit
activations on CPUs without VNNI; with VNNI (avx512_vnni / avx_vnni) they cannot, so 8-bit recipes
on x86 are refused on a CPU without it. qnnpack (ARM's kernels, also built for x86) accumulates in
32 bits: 8-bit everywhere, and the same result on every CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from srbench.errors import SrbenchError

OBSERVERS = ("minmax", "percentile", "histogram")


@dataclass(frozen=True)
class Int8Recipe:
    name: str
    backend: str  # torch.ao quantised engine: x86 | qnnpack
    activation_observer: str  # one of OBSERVERS
    reduce_range: bool  # 7-bit activations
    per_channel: bool  # weights per output channel (transposed convs stay per tensor)
    percentile: float | None = None  # for the percentile observer
    bias_correction: bool = False  # empirical bias correction of the weights' rounding (see quantize.py)
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


RECIPES: dict[str, Int8Recipe] = {r.name: r for r in (
    Int8Recipe("x86-hist-7bit", "x86", "histogram", True, True,
               description="torch.ao's x86 default: histogram (MSE) observer, 7-bit activations"),
    Int8Recipe("x86-minmax-8bit", "x86", "minmax", False, True,
               description="min-max observer, 8-bit activations (needs a VNNI CPU)"),
    Int8Recipe("x86-hist-8bit", "x86", "histogram", False, True,
               description="histogram (MSE) observer, 8-bit activations (needs a VNNI CPU)"),
    Int8Recipe("x86-pct-8bit", "x86", "percentile", False, True, percentile=99.99,
               description="99.99th percentile observer, 8-bit activations (needs a VNNI CPU)"),
    Int8Recipe("x86-hist-8bit-bc", "x86", "histogram", False, True, bias_correction=True,
               description="x86-hist-8bit with empirical bias correction (needs a VNNI CPU; slow)"),
    Int8Recipe("qnnpack-hist", "qnnpack", "histogram", False, True,
               description="qnnpack, histogram (MSE) observer, 8-bit activations, on any CPU"),
    Int8Recipe("ort-qdq-minmax", "onnxruntime", "minmax", False, True,
               description="onnxruntime static quantisation (QDQ) of the exported graph, min-max calibration"),
)}
ONNXRUNTIME_RECIPE = "ort-qdq-minmax"  # the default of --backend onnxruntime

# The measured best (docs/deploy.md) where the CPU allows it, else the best 8-bit recipe of any CPU.
DEFAULT_RECIPE = "x86-hist-8bit"
PORTABLE_DEFAULT_RECIPE = "qnnpack-hist"


def default_recipe() -> str:
    return DEFAULT_RECIPE if cpu_has_vnni() else PORTABLE_DEFAULT_RECIPE


# Calibration data: LR patches of the embedded demo set (never an evaluated benchmark set), cut on a
# grid of non-overlapping PATCH x PATCH squares from each image's LR, then PATCHES of them taken
# evenly over the list; run through the observers in batches of BATCH.
CALIBRATION_PATCH = 32
CALIBRATION_PATCHES = 64
CALIBRATION_BATCH = 16
MIN_CALIBRATION_PATCHES = 32


def get_recipe(name: str) -> Int8Recipe:
    if name not in RECIPES:
        raise SrbenchError(f"unknown int8 recipe '{name}'; use one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    if recipe.backend == "x86" and not recipe.reduce_range and not cpu_has_vnni():
        raise SrbenchError(f"int8 recipe '{name}' uses 8-bit activations on the x86 backend, which can saturate on "
                           "this CPU (no avx512_vnni/avx_vnni); use a qnnpack recipe or x86-hist-7bit")
    return recipe


@lru_cache(maxsize=1)
def cpu_has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


__all__ = [
    "CALIBRATION_BATCH",
    "CALIBRATION_PATCH",
    "CALIBRATION_PATCHES",
    "DEFAULT_RECIPE",
    "MIN_CALIBRATION_PATCHES",
    "OBSERVERS",
    "PORTABLE_DEFAULT_RECIPE",
    "RECIPES",
    "Int8Recipe",
    "cpu_has_vnni",
    "default_recipe",
    "get_recipe",
]
