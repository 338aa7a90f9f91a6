"""Build a card's torch module at a scale (official weights, or an architecture variant).
"""

from __future__ import annotations

import importlib
from dataclasses import replace

from srbench.errors import SrbenchError
from srbench.models.cards import ModelCard
from srbench.models.registry import get_card
from srbench.registry import import_object


def call_builder(card: ModelCard, scale: int, pretrained: bool):
    """The card's builder at ``scale``; the builder's own failure (an architecture setting it cannot
    build, say) is one line naming the model, never a traceback."""
    builder = import_object(card.builder, f"model '{card.name}' builder")
    try:
        return builder(card, scale, pretrained=pretrained)
    except SrbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the builder is model code, a card author's included
        text = str(exc).strip().splitlines()
        raise SrbenchError(f"model '{card.name}' x{scale} cannot be built: {type(exc).__name__}"
                           f"{': ' + text[0] if text else ''}") from None


def build_model(card: ModelCard, scale: int, pretrained: bool = True):
    """The module for ``card`` at ``scale`` (weights resolved through the asset cache/mirror)."""
    card.check_scale(scale)
    model = call_builder(card, scale, pretrained)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    # the card's I/O convention travels with the module (srbench.evaluate(create_model(...)) keeps it)
    model.srbench_io = {"colour": card.colour, "same_size": card.same_size}
    return model


def with_arch(card, overrides: dict):
    """``card`` with ``arch`` keys overridden (an architecture variant, profiled without weights).

    Only for builders that declare the keys they honour (``arch_parameters(card)`` in the builder's
    module), so that an override can never be ignored silently. The variant has no published figures.
    """
    if not overrides:
        return card
    module = importlib.import_module(card.builder.split(":")[0])
    declared = getattr(module, "arch_parameters", None)
    if declared is None:
        raise SrbenchError(f"model '{card.name}': its builder takes no --arch overrides (family {card.family})")
    unknown = sorted(set(overrides) - set(declared(card)))
    if unknown:
        raise SrbenchError(f"model '{card.name}': unknown --arch key(s) {', '.join(unknown)} "
                           f"(known: {', '.join(declared(card))})")
    label = ",".join(f"{k}={v}" for k, v in overrides.items())
    return replace(card, name=f"{card.name}[{label}]", arch={**card.arch, **overrides}, complexity={},
                               published=())


def create_model(name: str, scale: int | None = None, pretrained: bool = True, **arch):
    """A zoo model as a torch module (timm-style): ``create_model("imdn", 2)`` has the official x2
    weights; ``pretrained=False`` with ``arch`` overrides builds a variant with random weights, e.g.
    ``create_model("imdn", 2, pretrained=False, num_modules=4)`` for an architecture search."""
    card = get_card(name)
    if scale is None:
        scale = card.resolve_scale(None)
    if arch:
        if pretrained:
            raise SrbenchError(f"model '{card.name}': architecture overrides ({', '.join(arch)}) have no official "
                               "weights; pass pretrained=False")
        card = with_arch(card, arch)
    return build_model(card, scale, pretrained=pretrained)
