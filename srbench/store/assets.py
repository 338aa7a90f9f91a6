"""Pinned files (weights, metric parameters): cache -> mirror -> download, always sha256-verified.

Lookup order for an :class:`Asset`:
1. the cache, ``$SRBENCH_HOME/assets/<sha256[:16]>/<filename>`` (default ``~/.cache/srbench``);
2. a mirror: any file under a directory of ``$SRBENCH_MIRROR`` (``os.pathsep``-separated) whose sha256
   equals the pinned one (for an archive member, the archive itself is also accepted);
3. the upstream URL, with a progress bar on stderr, unless ``SRBENCH_OFFLINE=1``.
A file whose hash does not match is never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from srbench.errors import AssetMissingError, ChecksumError
from srbench.store.files import atomic_open

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asset:
    name: str  # human description, e.g. "IMDN x2 weights"
    filename: str  # file name in the cache
    url: str  # upstream URL (of the archive when ``member`` is set)
    sha256: str  # of the file itself (the member, for archives)
    size: int | None = None  # bytes, lets the mirror search skip most files
    license: str = ""
    member: str | None = None  # path inside the archive at ``url``
    archive_sha256: str | None = None
    archive_size: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def home() -> Path:
    return Path(os.environ.get("SRBENCH_HOME") or Path.home() / ".cache" / "srbench")


def mirror_dirs() -> list[Path]:
    value = os.environ.get("SRBENCH_MIRROR", "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def offline() -> bool:
    return os.environ.get("SRBENCH_OFFLINE", "").lower() in ("1", "true", "yes")


def cache_path(asset: Asset) -> Path:
    return home() / "assets" / asset.sha256[:16] / asset.filename


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=4096)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return sha256_of(Path(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached by path, mtime and size."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _mirror_files(root: str) -> tuple[tuple[str, int], ...]:
    out = []
    for dirpath, _, files in os.walk(root, followlinks=True):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                out.append((p, os.path.getsize(p)))
            except OSError:
                continue
    return tuple(out)


def find_in_mirror(sha256: str, filename: str | None = None, size: int | None = None) -> Path | None:
    """A file under any mirror directory with this sha256 (same-name files are hashed first)."""
    for root in mirror_dirs():
        if not root.is_dir():
            continue
        candidates = [p for p, s in _mirror_files(str(root)) if size is None or s == size]
        candidates.sort(key=lambda p: os.path.basename(p) != filename)
        for p in candidates:
            if file_sha256(Path(p)) == sha256:
                return Path(p)
    return None


def _verified(path: Path, sha256: str) -> bool:
    return path.is_file() and file_sha256(path) == sha256


def _extract_member(archive: Path, member: str, dst: Path) -> None:
    try:
        with atomic_open(dst, "wb") as out:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, out)
            else:
                with tarfile.open(archive) as tf:
                    src = tf.extractfile(member)
                    if src is None:
                        raise ChecksumError(f"{archive} has no file member '{member}'")
                    with src:
                        shutil.copyfileobj(src, out)
    except (KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise ChecksumError(f"{archive}: cannot extract '{member}' ({exc})") from None


def download(url: str, dst: Path, sha256: str, desc: str) -> None:
    """Download ``url`` to ``dst`` atomically with a progress bar; one-line errors for a hash
    mismatch, a network failure (``AssetMissingError``) or a file that cannot be written."""
    from tqdm import tqdm

    if offline() and not url.startswith("file:"):
        raise AssetMissingError(f"cannot download {url}: SRBENCH_OFFLINE is set (unset it, or put the file in a "
                                "directory named by SRBENCH_MIRROR)")
    digest = hashlib.sha256()
    with atomic_open(dst, "wb") as out:
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "srbench"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False) as bar:
                    for block in iter(lambda: resp.read(1 << 16), b""):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AssetMissingError(f"cannot download {url} ({reason}); check the network, or put the file in a "
                                    "directory named by SRBENCH_MIRROR") from None
        if digest.hexdigest() != sha256:
            raise ChecksumError(
                f"downloaded {url} but its sha256 is {digest.hexdigest()}, expected {sha256}: "
                "the upstream file changed or the download was corrupted; nothing was kept"
            )


def missing_message(asset: Asset) -> str:
    what = f"'{asset.member}' inside {asset.url}" if asset.member else asset.url
    return (
        f"{asset.name}: file '{asset.filename}' (sha256 {asset.sha256[:12]}…) is not available offline; "
        f"download {what} and put it at {cache_path(asset)} or in a directory named by SRBENCH_MIRROR"
    )


def resolve(asset: Asset, allow_download: bool | None = None) -> Path:
    """Path of a verified local copy of ``asset`` (see module docstring for the lookup order)."""
    cached = cache_path(asset)
    if cached.exists():
        if _verified(cached, asset.sha256):
            return cached
        log.warning("removing %s: sha256 does not match the pinned value", cached)
        cached.unlink()

    found = find_in_mirror(asset.sha256, asset.filename, asset.size)
    if found is not None:
        return found
    if asset.member and asset.archive_sha256:
        archive = find_in_mirror(asset.archive_sha256, Path(asset.url).name, asset.archive_size)
        if archive is not None:
            _extract_member(archive, asset.member, cached)
            return _check_extracted(asset, cached)

    if allow_download is None:
        allow_download = not offline() or asset.url.startswith("file:")  # a local file is not the network
    if not allow_download:
        raise AssetMissingError(missing_message(asset))
    try:
        if asset.member:
            archive = home() / "archives" / asset.archive_sha256[:16] / Path(asset.url).name
            if not _verified(archive, asset.archive_sha256):
                download(asset.url, archive, asset.archive_sha256, Path(asset.url).name)
            _extract_member(archive, asset.member, cached)
            return _check_extracted(asset, cached)
        download(asset.url, cached, asset.sha256, asset.filename)
    except AssetMissingError as exc:
        raise AssetMissingError(missing_message(asset) + f" ({exc})") from None
    return cached


def _check_extracted(asset: Asset, path: Path) -> Path:
    if not _verified(path, asset.sha256):
        got = sha256_of(path)
        path.unlink()
        raise ChecksumError(
            f"{asset.name}: '{asset.member}' has sha256 {got}, expected {asset.sha256}; nothing was kept"
        )
    return path


# ---------------------------------------------------------------------------------------------
# files the user supplies (e.g. the Ma et al. model, which srbench cannot pin or redistribute)


def _registry_file() -> Path:
    return home() / "assets" / "registered.json"


def registered(name: str) -> dict | None:
    """``{"sha256", "file", "source"}`` of a file registered with ``srbench fetch --file F --as name``."""
    import json

    try:
        return json.loads(_registry_file().read_text()).get(name)
    except (OSError, ValueError):
        return None


def register_file(path: Path, name: str, filename: str) -> dict:
    """Copy ``path`` into the cache under its sha256 and record it as ``name``."""
    import json

    from srbench.errors import SrbenchError
    from srbench.store.files import write_text

    path = Path(path)
    if not path.is_file():
        raise SrbenchError(f"--file {path}: no such file")
    sha = sha256_of(path)
    dst = cache_path(Asset(name=name, filename=filename, url="", sha256=sha))
    with atomic_open(dst, "wb") as out, open(path, "rb") as src:
        shutil.copyfileobj(src, out)
    try:
        table = json.loads(_registry_file().read_text())
    except (OSError, ValueError):
        table = {}
    table[name] = {"sha256": sha, "file": filename, "source": str(path.resolve())}
    write_text(_registry_file(), json.dumps(table, indent=2) + "\n")
    return table[name]
