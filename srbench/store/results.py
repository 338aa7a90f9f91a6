"""Result files: identity, strict JSON, the per-image journal, and one writer per result.

A result's *identity* is everything that changes its numbers (model and weights or a fingerprint,
dataset name and content fingerprint, limit, tiling, precision, protocol with every setting, the
metric set and settings, the model's I/O convention). Its short hash is part of every file name,
``<model>__<set>__x<s>__<protocol>[__<precision>]__<hash>``, and the identity is stored in the
result and in the journal's first line, so files of different identities never overwrite each
other and resume never mixes them.

- ``<stem>.json``: the result document, written atomically when the run completes;
- ``<stem>.partial.jsonl``: the journal, one line per finished image (fsynced), so Ctrl-C or a crash
  loses nothing; ``--resume`` validates it and computes only what is missing or invalid;
- ``.locks/<stem>.lock``: held (``flock``) by the one run writing that result.

JSON is strict (no NaN/Infinity tokens): an infinite value (PSNR of identical images) is written as
the string ``"inf"`` and read back as a float; NaN is never written (it is an error upstream).
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import functools
import hashlib
import json
import logging
import math
import os
import platform
import re
import subprocess
from pathlib import Path

from srbench import __version__
from srbench.errors import SrbenchError
from srbench.store.files import atomic_open, ensure_dir, os_error

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
JOURNAL_VERSION = 2


def identity_key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def safe_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", label).strip("-") or "model"


def result_stem(model: str, dataset: str, scale: int, protocol: str, precision: str, key: str) -> str:
    suffix = "" if precision == "fp32" else f"__{precision}"
    return f"{safe_label(model)}__{safe_label(dataset)}__x{scale}__{protocol}{suffix}__{key[:10]}"


# ---------------------------------------------------------------------------------------------
# strict JSON


def _encode(obj):
    if isinstance(obj, float):
        if math.isnan(obj):
            raise SrbenchError("refusing to write NaN into a result (a metric or model produced no number)")
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj):
    if obj in ("inf", "-inf"):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def dumps(obj, indent: int | None = 2) -> str:
    """Strict JSON (see the module docstring)."""
    return json.dumps(_encode(obj), indent=indent, ensure_ascii=False, allow_nan=False)


def loads(text: str, allow_nan: bool = False):
    """Strict JSON; ``allow_nan`` reads NaN/Infinity tokens too (the gate reports them as invalid)."""
    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return _decode(json.loads(text) if allow_nan else json.loads(text, parse_constant=no_constants))


def write_json_atomic(doc: dict, path: Path) -> None:
    text = dumps(doc) + "\n"
    with atomic_open(path, "w") as fh:
        fh.write(text)


def read_json(path: Path, allow_nan: bool = False):
    try:
        return loads(Path(path).read_text(), allow_nan)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SrbenchError(f"{path}: not valid JSON ({exc}); delete or repair it") from None
    except OSError as exc:
        raise SrbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None


# ---------------------------------------------------------------------------------------------
# journal and store


class Journal:
    """Append-only per-image records behind a required header line holding the identity."""

    def __init__(self, path: Path, identity: dict, key: str):
        self.path, self.identity, self.key = path, identity, key

    def _header(self) -> dict:
        return {"srbench_journal": JOURNAL_VERSION, "key": self.key, "identity": self.identity}

    def load(self, names: set[str], metrics: list[str]) -> dict[str, dict]:
        """Valid records of this identity, keyed by image file name: records of images not in the
        set, duplicated images and records lacking a metric (or holding a non-finite one, PSNR of
        identical images excepted) are dropped, so those images are computed again."""
        if not self.path.exists():
            return {}
        try:
            lines = self.path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("%s cannot be read (%s); starting this result afresh", self.path.name, exc)
            return {}
        try:
            header = loads(lines[0]) if lines else None
        except ValueError:
            header = None
        expected = loads(dumps(self._header(), indent=None))
        if header != expected:
            log.warning("%s has no header for this run's settings; starting this result afresh", self.path.name)
            return {}
        records: dict[str, dict] = {}
        seen: set[str] = set()
        dropped = 0
        for line in lines[1:]:
            try:
                rec = loads(line)
            except ValueError:
                dropped += 1  # a line cut by an interruption
                continue
            name = rec.get("name") if isinstance(rec, dict) else None
            if name in seen:
                records.pop(name, None)  # a duplicated image: neither copy is trusted
                dropped += 1
                continue
            seen.add(name)
            ok = name in names and all(
                isinstance(rec.get(m), (int, float)) and not math.isnan(rec[m])
                and (math.isfinite(rec[m]) or rec[m] == math.inf) for m in metrics)
            if ok:
                records[name] = rec
            else:
                dropped += 1
        if dropped:
            log.warning("%s: %d record(s) dropped (invalid, duplicated or for images not in the set); "
                        "they are computed again", self.path.name, dropped)
        return records

    def start(self, keep: list[dict]) -> None:
        """Rewrite the journal as the header plus ``keep`` (the valid records being resumed)."""
        with atomic_open(self.path, "w") as fh:
            fh.write(dumps(self._header(), indent=None) + "\n")
            for rec in keep:
                fh.write(dumps(rec, indent=None) + "\n")

    def append(self, records: list[dict]) -> None:
        try:
            with open(self.path, "a") as fh:
                for rec in records:
                    fh.write(dumps(rec, indent=None) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise os_error(self.path, exc) from None

    def remove(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s: %s", self.path, exc)


class ResultStore:
    """The files of one result identity in ``out_dir``; use as a context manager to hold its lock."""

    def __init__(self, out_dir: Path, stem: str, identity: dict, key: str):
        self.out = Path(out_dir)
        self.stem, self.identity, self.key = stem, identity, key
        self.path = self.out / f"{stem}.json"
        self.journal = Journal(self.out / f"{stem}.partial.jsonl", identity, key)
        self._lock_fh = None

    def __enter__(self) -> ResultStore:
        ensure_dir(self.out)
        lock = ensure_dir(self.out / ".locks") / f"{self.stem}.lock"
        try:
            fh = open(lock, "a+")
        except OSError as exc:
            raise os_error(lock, exc, "create") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise SrbenchError(f"another srbench run ({holder}) is writing {self.stem} in {self.out}; "
                                   "wait for it to finish or use another --out") from None
            raise os_error(lock, exc, "lock") from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} on {platform.node()}\n")
            fh.flush()
        except OSError as exc:  # e.g. the disk filled up between open and write
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
            raise os_error(lock, exc) from None
        self._lock_fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def finished(self) -> dict | None:
        """The complete result of this identity, if one was written."""
        if not self.path.exists():
            return None
        doc = read_json(self.path)
        if not isinstance(doc, dict) or doc.get("identity_key") != self.key:
            raise SrbenchError(f"{self.path}: not a result of this run's settings (identity differs); "
                               "delete it or use another --out")
        return doc

    def write(self, doc: dict) -> None:
        write_json_atomic(doc, self.path)
        self.journal.remove()


# ---------------------------------------------------------------------------------------------
# provenance


@functools.lru_cache(maxsize=1)
def git_hash() -> str:
    """Commit of the srbench checkout (``+dirty`` with local changes), or 'unknown' when installed."""
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        return "unknown"
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def environment() -> dict:
    import numpy
    import torch

    return {
        "srbench_version": __version__,
        "git_hash": git_hash(),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------------------------------
# reading results


def is_result(doc) -> bool:
    return isinstance(doc, dict) and "metrics" in doc and "protocol" in doc and "model" in doc


def load_result_files(path: str | Path, allow_nan: bool = False) -> list[tuple[Path, dict]]:
    """(file, document) for every result in a file or directory (recursively); other JSON is skipped."""
    path = Path(path)
    if not path.exists():
        raise SrbenchError(f"{path}: no such file or directory")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.json") if ".locks" not in p.parts)
    out = []
    for f in files:
        doc = read_json(f, allow_nan)
        docs = doc.get("results", [doc]) if isinstance(doc, dict) else []
        out.extend((f, d) for d in docs if is_result(d))
    return out


def load_results(path: str | Path) -> list[dict]:
    return [d for _, d in load_result_files(path)]
