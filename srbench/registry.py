"""A small lazy registry (lm-eval / timm style).

Entries are either objects or ``"module:attr"`` strings resolved on first use, so listing names never
imports optional backends. Unknown names raise a one-line error with near-match suggestions.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Generic, Iterator, TypeVar

from srbench.errors import SrbenchError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    """' Did you mean: a, b?' for near matches of ``name`` (empty string when none)."""
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=3, cutoff=0.5)
    lookup = {c.lower(): c for c in choices}
    return f" Did you mean: {', '.join(lookup[c] for c in close)}?" if close else ""


def import_object(spec: str, what: str) -> Any:
    """The object named by ``"module:attr"``, with a one-line error when it cannot be imported."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SrbenchError(f"{what}: '{spec}' is not of the form module:attribute")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SrbenchError(f"{what}: cannot import module '{module_name}' ({exc}); is it installed or on PYTHONPATH?") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SrbenchError(f"{what}: module '{module_name}' has no attribute '{attr}'") from None


class UnknownNameError(SrbenchError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Names (and aliases) to entries; ``loader`` runs once, before the first look-up, to import the
    modules that register the entries (so the registry is filled lazily, timm-style)."""

    def __init__(self, kind: str, loader=None):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}
        self._loader = loader

    def _load(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader()

    def register(self, name: str, obj: Any = None, *, aliases: tuple[str, ...] = (), where: str = ""):
        """Register ``obj`` (or a ``"module:attr"`` placeholder); usable as a decorator when obj is None.

        A name or alias that is already a name or alias is an error, never a replacement; ``where``
        (e.g. the card file) is named in that error."""

        def add(value: Any) -> Any:
            key = name.lower()
            for new in (key, *(a.lower() for a in aliases)):
                if new in self._entries or new in self._aliases:
                    owner = self._aliases.get(new, new)
                    what = "name" if new == key else "alias"
                    raise SrbenchError(
                        f"{self.kind} {what} '{new}' of '{name}' is already taken by {self.kind} '{owner}'"
                        + (f" ({where})" if where else "") + "; rename one of them"
                    )
            if len({a.lower() for a in aliases} | {key}) != len(aliases) + 1:
                raise SrbenchError(f"{self.kind} '{name}' lists an alias twice or equal to its name" + (f" ({where})" if where else ""))
            self._entries[key] = value
            for alias in aliases:
                self._aliases[alias.lower()] = key
            return value

        return add if obj is None else add(obj)

    def canonical(self, name: str) -> str:
        self._load()
        key = name.lower()
        key = self._aliases.get(key, key)
        if key not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'." + did_you_mean(name, self.names(with_aliases=True))
                + f" See 'srbench list {self.kind}s'."
            )
        return key

    def get(self, name: str) -> T:
        key = self.canonical(name)
        value = self._entries[key]
        if isinstance(value, str) and ":" in value:
            value = import_object(value, f"{self.kind} '{key}'")
            self._entries[key] = value
        return value

    def names(self, with_aliases: bool = False) -> list[str]:
        self._load()
        out = list(self._entries)
        if with_aliases:
            out += list(self._aliases)
        return out

    def aliases_of(self, name: str) -> list[str]:
        key = self.canonical(name)
        return [a for a, k in self._aliases.items() if k == key]

    def __contains__(self, name: str) -> bool:
        self._load()
        key = name.lower()
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._entries)
