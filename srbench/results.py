"""Result files: one JSON per (model, dataset, scale, protocol), written atomically, plus a
per-image JSONL journal that survives interruption (``--resume`` continues from it)."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from . import __version__

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def result_stem(model: str, dataset: str, scale: int, protocol: str, precision: str = "fp32") -> str:
    safe = dataset.replace(os.sep, "_").replace(":", "-")
    suffix = "" if precision == "fp32" else f"__{precision}"
    return f"{model}__{safe}__x{scale}__{protocol}{suffix}"


def write_json_atomic(doc: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False, allow_nan=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class Journal:
    """Append-only per-image records; each line is flushed and fsynced before the next image.

    The first line holds the run's settings (protocol with its version, precision, tiling, weights):
    a journal left by a run with other settings is never resumed from.
    """

    def __init__(self, path: Path, settings: dict | None = None):
        self.path = path
        self.settings = settings or {}

    def load(self) -> dict[str, dict]:
        done: dict[str, dict] = {}
        if not self.path.exists():
            return done
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interruption
            if "settings" in rec and "name" not in rec:
                if rec["settings"] != json.loads(json.dumps(self.settings)):
                    log.warning("%s was written with other settings; starting this run afresh", self.path.name)
                    self.remove()
                    return {}
                continue
            done[rec["name"]] = rec
        return done

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            if fh.tell() == 0:
                fh.write(json.dumps({"settings": self.settings}) + "\n")
            fh.write(json.dumps(record, allow_nan=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()


@functools.lru_cache(maxsize=1)
def git_hash() -> str:
    """Commit of the srbench checkout (``+dirty`` with local changes), or 'unknown' when installed."""
    repo = Path(__file__).resolve().parent.parent
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


def load_results(path: str | Path) -> list[dict]:
    """All result documents in a file or directory (recursively), skipping non-result JSON."""
    from .errors import SrbenchError

    path = Path(path)
    if not path.exists():
        raise SrbenchError(f"{path}: no such file or directory")
    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    out = []
    for f in files:
        try:
            doc = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SrbenchError(f"{f}: not valid JSON ({exc})") from None
        docs = doc.get("results", [doc]) if isinstance(doc, dict) else []
        out.extend(d for d in docs if isinstance(d, dict) and "metrics" in d and "protocol" in d)
    return out
