"""What a leaderboard table holds: result documents grouped by (protocol@version, scale), with the set
and metric order and titles taken from the dataset cards and metric specs. Shared by
:mod:`srbench.report.leaderboard` (markdown) and :mod:`srbench.report.plots` (figures); reads results only,
and what the zoo publishes through the :class:`Catalog` its caller hands it.

A result enters a table only when it is fp32, on a complete set and without ``--limit``; int8 and
other precisions are grouped apart (``Table.precision``) and shown beside their fp32 result. Two
results for the same cell (model, set) are an error naming both files.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from srbench.errors import SrbenchError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Catalog:
    """What the zoo publishes, handed to the report by its caller (the report reads results, never the
    zoo): each card's current published rows (cards get corrected without re-running models), the
    reference rows of models without weights, the same-size models that bicubic tables leave out, and
    the counts of a zoo model whose results carry none."""

    published: dict = field(default_factory=dict)  # model -> tuple of published rows
    references: tuple = ()
    same_size: tuple = ()
    counts: Callable[[str, int, str, str], dict] | None = None  # (model, scale, builder, arch json) -> block or {}


@dataclass
class Table:
    protocol: str  # name@version
    scale: int
    docs: dict  # (model, dataset) -> result document
    precision: str = "fp32"
    catalog: Catalog = field(default_factory=Catalog)
    _ties: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.protocol.split("@")[0]

    @property
    def filename(self) -> str:
        return f"{self.name}_x{self.scale}.md"

    @property
    def models(self) -> list[str]:
        """bicubic first, then by Mult-Adds (cheapest first), then by name."""
        names = {m for m, _ in self.docs}

        def key(m):
            c = complexity_of([d for (mm, _), d in self.docs.items() if mm == m])
            return (m != "bicubic", c.get("macs_g") if c.get("macs_g") is not None else -1, m)

        return sorted(names, key=key)

    @property
    def sets(self) -> list[str]:
        return sorted({ds for _, ds in self.docs}, key=set_order)

    def tied_with_best(self, dataset: str, metric: str) -> set[str]:
        """Models whose ``metric`` on ``dataset`` is not significantly different from the best model's
        (paired over the same images, :func:`srbench.report.significance.ties_with_best`)."""
        if (dataset, metric) not in self._ties:
            from srbench.report.significance import ties_with_best

            cells = [(m, d) for (m, ds), d in self.docs.items() if ds == dataset]
            _, tied = ties_with_best([d for _, d in cells], metric)
            self._ties[(dataset, metric)] = {cells[k][0] for k in tied}
        return self._ties[(dataset, metric)]

    @property
    def metrics(self) -> list[str]:
        from srbench.metrics.registry import METRICS

        present = {m for d in self.docs.values() for m in d["metrics"]}
        return [m for m in METRICS.names() if m in present] + sorted(present - set(METRICS.names()))


def eligible(doc: dict) -> str | None:
    """The precision group a result belongs to (each int8 recipe its own: ``int8 <recipe>``), or None
    when it never enters a leaderboard."""
    from srbench.report.precision import precision_label

    ds = doc.get("provenance", {}).get("dataset", {})
    if ds.get("limit") or not ds.get("complete", True):
        return None
    return precision_label(doc)


def group(files: list[tuple[Path, dict]], catalog: Catalog | None = None) -> list[Table]:
    tables: dict[tuple, dict] = defaultdict(dict)
    where: dict[tuple, Path] = {}
    catalog = catalog or Catalog()
    for path, d in files:
        d = with_counts(d, catalog)
        precision = eligible(d)
        if precision is None:
            continue
        key = (f"{d['protocol']['name']}@{d['protocol']['version']}", d["scale"], precision)
        cell = (d["model"], d["dataset"])
        if cell in tables[key]:
            raise SrbenchError(f"two results for {cell[0]} on {cell[1]} x{d['scale']} ({key[0]}, {precision}): "
                               f"{where[key + cell]} and {path}; keep one")
        tables[key][cell] = d
        where[key + cell] = path
    return [Table(p, s, t, prec, catalog) for (p, s, prec), t in sorted(tables.items())]


def set_order(name: str) -> tuple:
    from srbench.datasets import DATASETS

    card = DATASETS.get(name) if name in DATASETS else None
    return (card.order if card else 1000, name)


def set_title(name: str) -> str:
    from srbench.datasets import DATASETS

    return DATASETS.get(name).title if name in DATASETS else name


def metric_spec(name: str):
    from srbench.metrics.registry import METRICS

    return METRICS.get(name) if name in METRICS else None


def metric_title(name: str) -> str:
    spec = metric_spec(name)
    return f"{spec.title} {spec.arrow}" if spec else name


def complexity_of(docs: list[dict]) -> dict:
    for d in docs:
        if d.get("complexity"):
            return d["complexity"]
    return {}


def with_counts(doc: dict, catalog: Catalog) -> dict:
    """``doc`` with the catalog's counts where the result carries none (made while counting its model
    failed): counts depend on the architecture only, never on the evaluation, so the result stays valid."""
    model = (doc.get("identity") or {}).get("model") or {}
    if doc.get("complexity") or catalog.counts is None or model.get("kind") != "card" or model.get("name") != doc["model"]:
        return doc  # only a zoo card's own result: a module or callable labelled like a zoo model is not that model
    counts = catalog.counts(model["name"], doc["scale"], model.get("builder"), json.dumps(model.get("arch"), sort_keys=True))
    return {**doc, "complexity": counts} if counts else doc


def published_rows(doc: dict, catalog: Catalog) -> list[dict]:
    """The catalog's current published rows for this result; the copy inside the result for models
    the catalog does not know (someone else's card)."""
    if doc["model"] not in catalog.published:
        return doc.get("published", [])
    return [r for r in catalog.published[doc["model"]] if r["dataset"] == doc["dataset"] and r["scale"] == doc["scale"]]


def paper_row(doc: dict, catalog: Catalog) -> dict | None:
    return next((r for r in published_rows(doc, catalog) if r.get("kind", "paper") == "paper"), None)
