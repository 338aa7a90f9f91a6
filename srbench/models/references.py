"""Published rows of models without weights (``model_zoo/references.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from srbench.models.cards import _check_keys, _load_toml, card_files

# Reference rows: published numbers of models srbench has no weights for, as the source papers print
# them beside zoo models ([references.<name>] tables; nothing runs).
REFERENCE_KEYS = {"title": str, "paper": str, "params_paper": str, "mult_adds_paper_g": dict,
                  "mult_adds_convention": str, "published": list}


@dataclass(frozen=True)
class Reference:
    name: str
    title: str
    paper: str
    published: tuple
    params_paper: str = ""
    mult_adds_paper_g: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def references() -> tuple[Reference, ...]:
    out = []
    for path in card_files():
        for name, d in _load_toml(path).get("references", {}).items():
            _check_keys(f"model card {path.name}: reference '{name}'", d, REFERENCE_KEYS, ("title", "published"))
            out.append(Reference(name, d["title"], d.get("paper", ""), tuple(d["published"]), d.get("params_paper", ""),
                                 d.get("mult_adds_paper_g", {})))
    return tuple(out)


def catalog():
    """The zoo's published rows for the report (:class:`srbench.report.tables.Catalog`)."""
    from srbench.models.registry import get_card, list_models
    from srbench.report.tables import Catalog

    cards = [get_card(m) for m in list_models()]
    return Catalog(published={c.name: tuple(c.published) for c in cards}, references=references(),
                   same_size=tuple(c.name for c in cards if c.same_size), counts=card_counts)


@lru_cache(maxsize=None)
def card_counts(model: str, scale: int, builder: str, arch_json: str) -> dict:
    """A zoo model's complexity block at ``scale`` (as a result records it), for a result made from that
    very card (same builder and architecture); {} otherwise, or when it cannot be counted (said once)."""
    import json
    import logging

    from srbench.cost.complexity import card_complexity
    from srbench.errors import SrbenchError
    from srbench.models.registry import get_card, model_registry

    if model not in model_registry():
        return {}
    card = get_card(model)
    if card.builder != builder or json.dumps(card.arch, sort_keys=True) != arch_json:
        return {}
    try:
        return card_complexity(card, scale)
    except SrbenchError as exc:
        logging.getLogger(__name__).warning("complexity of %s x%d not counted: %s", model, scale, exc)
        return {}
