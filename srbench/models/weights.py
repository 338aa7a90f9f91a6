"""Official weights: resolved as pinned assets and loaded strictly (every key, every shape).
"""

from __future__ import annotations

from srbench.errors import SrbenchError
from srbench.models.cards import ModelCard


def load_state_dict_strict(model, state_dict: dict, what: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error naming missing/unexpected keys."""
    import torch

    missing = [k for k in model.state_dict() if k not in state_dict]
    unexpected = [k for k in state_dict if k not in model.state_dict()]
    if missing or unexpected:
        def head(keys):
            return ", ".join(keys[:4]) + (f" … (+{len(keys) - 4})" if len(keys) > 4 else "")
        raise SrbenchError(
            f"{what}: checkpoint does not fit the architecture (missing keys: {head(missing) or 'none'}; "
            f"unexpected keys: {head(unexpected) or 'none'}); is this the right file for this model?"
        )
    own = model.state_dict()
    for k, v in state_dict.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise SrbenchError(
                f"{what}: checkpoint tensor '{k}' has shape {tuple(v.shape)}, the architecture expects "
                f"{tuple(own[k].shape)}; is this the right file for this model/scale?"
            )
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state_dict.items()}, strict=True)


def resolve_weights(card: ModelCard, scale: int):
    """(local path, Asset) of the card's verified weights at ``scale``."""
    from srbench.store.assets import resolve

    asset = card.weights_for(scale)
    if asset is None:
        raise SrbenchError(f"model '{card.name}' has no weights for x{scale}")
    return resolve(asset), asset


def load_official_pth(model, card: ModelCard, scale: int):
    """Load an official PyTorch checkpoint strictly (a DataParallel ``module.`` prefix is dropped)."""
    path, asset = resolve_weights(card, scale)
    state = load_torch_checkpoint(path, asset.name)
    load_state_dict_strict(model, {k.removeprefix("module."): v for k, v in state.items()}, asset.name)
    return model


def load_torch_checkpoint(path, what: str) -> dict:
    """``torch.load(weights_only=True)`` with a one-line error for corrupt files."""
    import pickle
    import zipfile

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrbenchError(f"{what}: {path} is not a readable PyTorch checkpoint ({first}); delete it and fetch it again") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise SrbenchError(f"{what}: {path} does not contain a state_dict")
    return obj
