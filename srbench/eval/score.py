"""Score a folder of precomputed SR images (any method, any framework) under any protocol.

The SR files are matched to the set's images by name (:func:`srbench.sources.folder.match_sr_files`:
``img_001.png``, ``img_001_x4.png``, ``img_001x4.png``, ``img_001_SR.png``, ``img_001_x4_SR.png``,
``img_001_SRF_4_SR.png``; any image extension). Each must have the size of its HR after modcrop
(single-channel files are grey images, or the Y under a Y-only protocol). The result document is
the same as ``srbench run``'s, so leaderboards and the regression gate take it unchanged.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from srbench.eval.driver import run_plan
from srbench.eval.executors import make_executor
from srbench.eval.plan import make_plan
from srbench.sources.folder import folder_source


def score_plan(sr_dir, dataset, scale: int, *, label: str | None = None, protocol: str | None = None, metrics=None,
               data_root=None, device: str = "cpu", allow_missing: bool = False):
    from srbench.datasets import open_dataset

    ds = open_dataset(dataset, data_root) if isinstance(dataset, str) else dataset
    source = folder_source(sr_dir, ds.samples, scale, label, allow_missing)
    return make_plan(None, ds, scale, protocol=protocol, metrics=metrics, device=device, source=source,
                     only=set(source.files), allow_incomplete=allow_missing)


def score(sr_dir, dataset, scale: int, *, label: str | None = None, protocol: str | None = None, metrics=None,
          data_root=None, device: str = "cpu", allow_missing: bool = False, out_dir=None, resume: bool = False,
          workers: int = 1, command: str | None = None) -> dict:
    """The result document for the SR images in ``sr_dir`` (see the module docstring)."""
    plan = score_plan(sr_dir, dataset, scale, label=label, protocol=protocol, metrics=metrics, data_root=data_root,
                      device=device, allow_missing=allow_missing)
    executor = make_executor(workers=workers)
    try:
        return run_plan(plan, out_dir=Path(out_dir) if out_dir else None, resume=resume, executor=executor,
                        command=command)
    finally:
        executor.close()


class _CallableModule(types.ModuleType):
    """``srbench.eval.score`` names both this module and the API function: importing the submodule binds the
    name on the package to the module, so the module calls :func:`score` (``srbench.score(...)`` works on
    every call, however it was reached)."""

    def __call__(self, *args, **kwargs):
        return score(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
