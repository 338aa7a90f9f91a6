"""The model registry: every card by name and alias, loaded lazily.
"""

from __future__ import annotations

from functools import lru_cache

from srbench.models.cards import ModelCard, card_files, read_card_file
from srbench.registry import Registry


@lru_cache(maxsize=1)
def model_registry() -> Registry[ModelCard]:
    reg: Registry[ModelCard] = Registry("model")
    for path in card_files():
        for card in read_card_file(path):
            reg.register(card.name, card, aliases=card.aliases, where=str(path))
    return reg


def get_card(name: str) -> ModelCard:
    return model_registry().get(name)


def list_models() -> list[str]:
    return model_registry().names()
