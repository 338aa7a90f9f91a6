"""Metric specs (validated data, with display metadata) and the small metric contract.

A metric implementation is built as ``cls(device=..., **settings)`` and sees only a
:class:`srbench.protocol.pipeline.Prepared` pair, never the protocol (the pipeline prepares exactly the input
the spec names in ``input``: the protocol's shaved Y pair, the shaved RGB pair, the LPIPS pair or
the no-reference grey image)::

    class Metric:
        def __call__(self, pair) -> float
        def batch(self, pairs) -> list[float]        # default: one by one
        def batch_details(self, pairs) -> list[tuple[float, dict]]  # value + extra record fields
        def assets(self) -> dict[str, str]           # every file it uses -> sha256, for provenance

The set value is the spec's ``aggregate`` of the per-image values (``mean``: the literature's
convention; PI's set value (mean NIQE + 10 - mean Ma) / 2 equals the mean of per-image PI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from srbench.errors import SrbenchError

Input = Literal["y", "rgb", "lpips", "nr"]


AGGREGATES = {"mean": lambda values: float(np.mean(values))}


@dataclass(frozen=True)
class MetricSpec:
    name: str
    title: str  # column title in tables and plots
    higher_is_better: bool
    input: Input  # what the pipeline prepares for it
    value_range: tuple[float | None, float | None]
    unit: str
    description: str
    impl: str  # "module:Class"
    fmt: str  # number format in tables, e.g. ".2f"
    tolerance: float  # default absolute tolerance of the regression gate
    settings: dict = field(default_factory=dict)  # fixed constructor settings (the protocol's come from the pipeline)
    aggregate: str = "mean"

    def __post_init__(self):
        if self.input not in ("y", "rgb", "lpips", "nr"):
            raise SrbenchError(f"metric '{self.name}': unknown input '{self.input}'")
        if self.aggregate not in AGGREGATES:
            raise SrbenchError(f"metric '{self.name}': unknown aggregate '{self.aggregate}'")

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def needs_reference(self) -> bool:
        return self.input != "nr"

    @property
    def needs_rgb(self) -> bool:
        return self.input in ("rgb", "lpips")

    def to_dict(self, settings: dict | None = None) -> dict:
        return {
            "name": self.name, "title": self.title, "higher_is_better": self.higher_is_better,
            "needs_reference": self.needs_reference, "input": self.input, "value_range": list(self.value_range),
            "unit": self.unit, "aggregate": self.aggregate,
            "settings": {**self.settings, **(settings or {})},
        }

    def reduce(self, values: list[float]) -> float:
        return AGGREGATES[self.aggregate](values)


class Metric:
    """Base of srbench's metric implementations (the contract in the module docstring)."""

    spec: MetricSpec

    def __call__(self, pair) -> float:
        raise NotImplementedError

    def batch(self, pairs) -> list[float]:
        return [self(p) for p in pairs]

    def batch_details(self, pairs) -> list[tuple[float, dict]]:
        """Each value with the extra fields it adds to the image's record (NIQE: its conditioning)."""
        return [(v, {}) for v in self.batch(pairs)]

    def assets(self) -> dict[str, str]:
        return {}
