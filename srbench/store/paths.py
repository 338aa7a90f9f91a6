"""Where the data files that ship with srbench live (model cards, dataset manifests)."""

from __future__ import annotations

from pathlib import Path


def data_dir(kind: str) -> Path:
    """``model_zoo`` or ``datasets``: packaged copy in a wheel, else the repository's top-level folder."""
    packaged = Path(__file__).resolve().parents[1] / "_data" / kind
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / kind
