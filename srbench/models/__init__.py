"""Model zoo: cards (``model_zoo/*.toml``) + lazily imported builders.

A card names a builder ``"module:function"`` with the signature
``build(card: ModelCard, scale: int, pretrained: bool = True) -> torch.nn.Module``. The module it
returns maps a float tensor N x C x h x w with values in [0, 1] (C = 3 for ``colour = "rgb"``,
C = 1 for ``colour = "y"``: MATLAB Y / 255) to N x C x (s h) x (s w) in the same units, neither
clamped nor rounded (the protocol does that). Weights are always loaded with ``strict=True``.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..assets import Asset
from ..errors import SrbenchError
from ..paths import data_dir
from ..registry import Registry, UnknownNameError, did_you_mean, import_object


@dataclass(frozen=True)
class ModelCard:
    name: str
    title: str
    family: str
    builder: str
    scales: tuple[int, ...]
    colour: str  # "rgb" | "y"
    input_range: str
    colour_pipeline: str
    paper: str
    repo: str
    commit: str
    license: str
    paper_protocol: str
    aliases: tuple[str, ...] = ()
    default_scale: int | None = None
    arch: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)  # "x2" | "all" -> Asset
    published: tuple = ()  # dicts: dataset, scale, psnr, ssim?, protocol, kind (paper|measured), source
    complexity: dict = field(default_factory=dict)  # published params / mult-adds
    same_size: bool = False  # output has the input's size (IMDN-AS, RealSR)
    arch_only_scales: tuple[int, ...] = ()  # scales with no released weights: profiled, never evaluated
    notes: str = ""
    default_metrics: tuple[str, ...] = ()  # what `srbench run` computes when --metrics is not given
    default_protocol: str | None = None  # what `srbench run` uses when --protocol is not given ("paper" allowed)
    card_file: str = ""

    def weights_for(self, scale: int) -> Asset | None:
        return self.weights.get(f"x{scale}") or self.weights.get("all")

    def published_for(self, dataset: str, scale: int, kind: str = "paper", protocol: str | None = None) -> dict | None:
        for row in self.published:
            if (row["dataset"] == dataset and row["scale"] == scale and row.get("kind", "paper") == kind
                    and (protocol is None or row.get("protocol") == protocol)):
                return row
        return None

    def check_scale(self, scale: int, arch_only_ok: bool = False) -> None:
        """Raise unless ``scale`` has released weights (or, with ``arch_only_ok``, is architecture-only)."""
        if scale in self.scales or (arch_only_ok and scale in self.arch_only_scales):
            return
        if scale in self.arch_only_scales:
            raise SrbenchError(f"model '{self.name}' x{scale} is architecture-only (no released weights): "
                               f"'srbench profile' counts it, it cannot be evaluated")
        raise SrbenchError(
            f"model '{self.name}' does not support x{scale} (released for "
            + ", ".join(f"x{s}" for s in self.scales) + ")"
        )

    @property
    def profile_scales(self) -> tuple[int, ...]:
        """Every scale whose architecture can be built: the released ones, then the architecture-only ones."""
        return self.scales + tuple(s for s in self.arch_only_scales if s not in self.scales)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "family": self.family, "scales": list(self.scales),
            "colour": self.colour, "input_range": self.input_range, "colour_pipeline": self.colour_pipeline,
            "paper": self.paper, "repo": self.repo, "commit": self.commit, "license": self.license,
            "paper_protocol": self.paper_protocol, "aliases": list(self.aliases),
            "arch_only_scales": list(self.arch_only_scales),
            "weights": {k: a.to_dict() for k, a in self.weights.items()},
            "published": list(self.published), "complexity": self.complexity, "notes": self.notes,
            "default_metrics": list(self.default_metrics), "default_protocol": self.default_protocol,
        }


# The card schema: every key a card may have, with its type. Anything else is an error naming the
# card and the key, so a typo never silently drops a setting.
CARD_KEYS = {
    "title": str, "family": str, "builder": str, "scales": list, "colour": str, "input_range": str,
    "colour_pipeline": str, "paper": str, "repo": str, "commit": str, "license": str, "paper_protocol": str,
    "aliases": list, "default_scale": int, "arch": dict, "weights": dict, "published": list, "complexity": dict,
    "same_size": bool, "notes": str, "default_metrics": list, "default_protocol": str, "arch_only_scales": list,
}
REQUIRED_CARD_KEYS = ("family", "builder", "scales")
WEIGHT_KEYS = {"file": str, "url": str, "sha256": str, "path": str, "size": int, "license": str, "member": str,
               "archive_sha256": str, "archive_size": int}
REQUIRED_WEIGHT_KEYS = ("file", "url", "sha256")


def _check_keys(where: str, d: dict, schema: dict, required: tuple) -> None:
    if not isinstance(d, dict):
        raise SrbenchError(f"{where}: expected a table, got {type(d).__name__}")
    unknown = sorted(set(d) - set(schema))
    if unknown:
        raise SrbenchError(f"{where}: unknown key '{unknown[0]}' (known keys: {', '.join(schema)})")
    missing = [k for k in required if k not in d]
    if missing:
        raise SrbenchError(f"{where}: lacks {', '.join(missing)}")
    for k, v in d.items():
        tp = schema[k]
        if not isinstance(v, tp) or (tp is int and isinstance(v, bool)):
            raise SrbenchError(f"{where}: '{k}' must be {tp.__name__}, got {type(v).__name__}")


def _asset(card_name: str, key: str, w: dict, where: str) -> Asset:
    _check_keys(f"{where}: weights.{key}", w, WEIGHT_KEYS, REQUIRED_WEIGHT_KEYS)
    sha = w["sha256"].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise SrbenchError(f"{where}: weights.{key}.sha256 must be 64 hex digits")
    return Asset(
        name=f"{card_name} {key} weights",
        filename=w["file"],
        url=w["url"],
        sha256=sha,
        size=w.get("size"),
        license=w.get("license", ""),
        member=w.get("member"),
        archive_sha256=w.get("archive_sha256"),
        archive_size=w.get("archive_size"),
    )


def card_from_toml(name: str, d: dict, card_file: str) -> ModelCard:
    """A validated :class:`ModelCard` from one ``[models.<name>]`` table of ``card_file``."""
    where = f"model card {card_file}: model '{name}'"
    _check_keys(where, d, CARD_KEYS, REQUIRED_CARD_KEYS)
    scales = d["scales"]
    if not scales or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in scales):
        raise SrbenchError(f"{where}: 'scales' must be a non-empty list of positive integers")
    if d.get("colour", "rgb") not in ("rgb", "y"):
        raise SrbenchError(f"{where}: 'colour' must be 'rgb' or 'y'")
    if ":" not in d["builder"]:
        raise SrbenchError(f"{where}: 'builder' must be 'module:function'")
    weights = {k: _asset(name, k, w, where) for k, w in d.get("weights", {}).items()}
    return ModelCard(
        name=name,
        title=d.get("title", name),
        family=d["family"],
        builder=d["builder"],
        scales=tuple(scales),
        colour=d.get("colour", "rgb"),
        input_range=d.get("input_range", ""),
        colour_pipeline=d.get("colour_pipeline", ""),
        paper=d.get("paper", ""),
        repo=d.get("repo", ""),
        commit=d.get("commit", ""),
        license=d.get("license", ""),
        paper_protocol=d.get("paper_protocol", "matlab"),
        aliases=tuple(d.get("aliases", ())),
        default_scale=d.get("default_scale"),
        arch=d.get("arch", {}),
        weights=weights,
        published=tuple(d.get("published", ())),
        complexity=d.get("complexity", {}),
        same_size=d.get("same_size", False),
        arch_only_scales=tuple(d.get("arch_only_scales", ())),
        notes=d.get("notes", "").strip(),
        default_metrics=tuple(d.get("default_metrics", ())),
        default_protocol=d.get("default_protocol"),
        card_file=card_file,
    )


def card_files() -> list:
    """srbench's own cards, then any in the folders of ``SRBENCH_ZOO_PATH`` (a model author's cards)."""
    import os
    from pathlib import Path

    files = sorted(data_dir("model_zoo").glob("*.toml"))
    for folder in os.environ.get("SRBENCH_ZOO_PATH", "").split(os.pathsep):
        if folder:
            if not Path(folder).is_dir():
                raise SrbenchError(f"SRBENCH_ZOO_PATH names {folder}, which is not a directory")
            files += sorted(Path(folder).glob("*.toml"))
    return files


def _load_toml(path) -> dict:
    from pathlib import Path

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise SrbenchError(f"model card {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SrbenchError(f"model card {path}: invalid TOML ({exc})") from None
    unknown = sorted(set(doc) - {"models", "references"})
    if unknown:
        raise SrbenchError(f"model card {path}: unknown top-level key '{unknown[0]}' "
                           "(cards are [models.<name>] tables, published rows of other models [references.<name>])")
    return doc


def read_card_file(path) -> list[ModelCard]:
    """Every model card in one TOML file (``[models.<name>]`` tables), validated."""
    from pathlib import Path

    return [card_from_toml(name, d, Path(path).name) for name, d in _load_toml(path).get("models", {}).items()]


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


def build_model(card: ModelCard, scale: int, pretrained: bool = True):
    """The module for ``card`` at ``scale`` (weights resolved through the asset cache/mirror)."""
    card.check_scale(scale)
    builder = import_object(card.builder, f"model '{card.name}' builder")
    model = builder(card, scale, pretrained=pretrained)
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


class Range255:
    """Mixin for networks that work on RGB in [0, 255] (TPSR, RFDN, RLFN): srbench's [0, 1] in, [0, 1]
    units out. ``class XWrapper(Range255, X)`` keeps X's official state_dict keys."""

    def forward(self, x):
        return super().forward(x * 255.0) / 255.0


def create_model(name: str, scale: int | None = None, pretrained: bool = True, **arch):
    """A zoo model as a torch module (timm-style): ``create_model("imdn", 2)`` has the official x2
    weights; ``pretrained=False`` with ``arch`` overrides builds a variant with random weights, e.g.
    ``create_model("imdn", 2, pretrained=False, num_modules=4)`` for an architecture search."""
    card = get_card(name)
    if scale is None:
        if card.default_scale is None and len(card.scales) != 1:
            raise SrbenchError(f"model '{card.name}' supports {', '.join(f'x{s}' for s in card.scales)}; pass scale=")
        scale = card.default_scale or card.scales[0]
    if arch:
        if pretrained:
            raise SrbenchError(f"model '{card.name}': architecture overrides ({', '.join(arch)}) have no official "
                               "weights; pass pretrained=False")
        card = with_arch(card, arch)
    return build_model(card, scale, pretrained=pretrained)


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
    from ..assets import resolve

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


__all__ = [
    "ModelCard", "create_model", "get_card", "list_models", "build_model", "load_state_dict_strict", "resolve_weights", "load_official_pth",
    "load_torch_checkpoint", "model_registry", "UnknownNameError", "did_you_mean",
]
