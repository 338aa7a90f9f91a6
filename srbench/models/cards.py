"""Model cards: validated data (``model_zoo/*.toml``, card files, ``SRBENCH_ZOO_PATH``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from srbench.errors import SrbenchError
from srbench.store.assets import Asset
from srbench.store.paths import data_dir


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

    def default_scales(self) -> list[int]:
        """The one rule for a missing scale: the card's default, else every scale with weights (the CLI
        runs them all; one evaluation or one module needs exactly one)."""
        return [self.default_scale] if self.default_scale else list(self.scales)

    def resolve_scale(self, scale: int | None) -> int:
        """``scale`` checked, or the default one (an error when the card has several and no default)."""
        if scale is None:
            scales = self.default_scales()
            if len(scales) != 1:
                raise SrbenchError(f"model '{self.name}' supports {', '.join(f'x{s}' for s in scales)}; "
                                   "pass --scale (scale= in Python)")
            return scales[0]
        self.check_scale(scale)
        return scale

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
