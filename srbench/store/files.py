"""Safe file writes: atomic (unique temporary file + rename), fsynced, mode from the umask, and one-line
errors naming the path (a full disk or an unwritable folder never leaves a half-written file nor
replaces the previous one)."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from srbench.errors import SrbenchError

_umask_lock = threading.Lock()


def _file_mode() -> int:
    """0o666 minus the process umask (what open() would give a new file)."""
    with _umask_lock:
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def os_error(path: Path, exc: OSError, doing: str = "write") -> SrbenchError:
    """One line for an OSError while writing ``path``, with the advice that fits its cause."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why, todo = "the disk is full", "free space or choose another location"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why, todo = "permission denied (read-only or not yours)", "choose a writable location"
    elif exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        why = exc.strerror or str(exc)
        todo = "a file or folder of that name is in the way: move it or choose another location"
    else:
        why, todo = exc.strerror or str(exc), "check the path or choose another location"
    return SrbenchError(f"cannot {doing} {path}: {why}; {todo} (nothing was replaced)")


def ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(path, exc, "create folder") from None
    if not path.is_dir():
        raise SrbenchError(f"cannot create folder {path}: a file of that name exists")
    return path


@contextmanager
def atomic_open(path: str | Path, mode: str = "w"):
    """A file object writing to a unique temporary file beside ``path``; on success it is fsynced,
    given the umask's mode and renamed over ``path``; on any error it is removed."""
    path = Path(path)
    ensure_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise os_error(path, exc) from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise os_error(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)
