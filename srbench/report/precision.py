"""Precision and backend of a result document, as every table, summary line and ranking shows them.

A number is only comparable with numbers of the same precision: fp16, bf16 and int8 (each int8 recipe
apart) never share a ranking with fp32. Result documents written before int8 recipes existed carry
no recipe name: they are labelled ``LEGACY_RECIPE`` (torch.ao x86, histogram observer, 7-bit
activations, 5 centre crops of the demo set).
"""

from __future__ import annotations

from srbench.errors import SrbenchError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
LEGACY_RECIPE = "legacy-x86-hist-7bit"
ONNX_FILE_RECIPE = "onnx-file"  # an ONNX graph quantised before srbench saw it (QDQ / QLinear ops)


def _int8_onnx_file(doc: dict) -> bool:
    return bool(((doc.get("provenance") or {}).get("weights") or {}).get("int8_ops"))


def precision_of(doc: dict) -> str:
    if _int8_onnx_file(doc):
        return "int8"
    return (doc.get("provenance") or {}).get("precision") or (doc.get("identity") or {}).get("precision") or "fp32"


def recipe_of(doc: dict) -> str | None:
    """The int8 recipe's name (None for other precisions)."""
    if precision_of(doc) != "int8":
        return None
    if _int8_onnx_file(doc):
        return ONNX_FILE_RECIPE
    quant = (doc.get("provenance") or {}).get("quantization") or {}
    return (quant.get("recipe") or {}).get("name") or LEGACY_RECIPE


def precision_label(doc: dict) -> str:
    """``fp32``, ``fp16``, ``bf16`` or ``int8 <recipe>``: results with different labels are never ranked together."""
    recipe = recipe_of(doc)
    return precision_of(doc) + (f" {recipe}" if recipe else "")


def backend_of(doc: dict) -> str:
    """What computed the SR images: torch, torch.ao <engine> (int8), onnxruntime, or none (given images)."""
    kind = ((doc.get("identity") or {}).get("model") or {}).get("kind")
    if kind == "int8":
        quant = (doc.get("provenance") or {}).get("quantization") or {}
        backend = quant.get("backend", "?")
        return backend if backend == "onnxruntime" else f"torch.ao {backend}"
    if kind == "onnx":
        return "onnxruntime"
    if kind == "sr-folder":
        return "images"
    if kind == "callable":
        return "python"
    return "torch"


def select_precision(docs: list[dict], precision: str | None) -> list[dict]:
    """The documents of one precision (``int8`` matches every recipe; ``int8 NAME`` one), or all."""
    if precision is None:
        return docs
    base = precision.split()[0]
    if base not in PRECISIONS:
        raise SrbenchError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)} "
                           "(int8 NAME for one int8 recipe)")
    return [d for d in docs if (precision_label(d) if " " in precision.strip() else precision_of(d)) == precision.strip()]


__all__ = ["LEGACY_RECIPE", "ONNX_FILE_RECIPE", "PRECISIONS", "backend_of", "precision_label", "precision_of", "recipe_of",
           "select_precision"]
