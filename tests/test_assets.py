"""Asset resolution: cache, mirror by sha256, archive members, downloads (file:// URLs), errors."""

import hashlib
import io
import tarfile

import pytest

from srbench.errors import AssetMissingError, ChecksumError
from srbench.store import assets
from srbench.store.assets import Asset, resolve


def _asset(payload: bytes, url: str = "https://example.invalid/w.pth", **kw) -> Asset:
    return Asset("test weights", "w.pth", url, hashlib.sha256(payload).hexdigest(), size=len(payload), **kw)


def test_mirror_finds_file_by_sha256_under_any_name(tmp_path, monkeypatch):
    payload = b"weights-bytes" * 100
    (tmp_path / "deep" / "dir").mkdir(parents=True)
    (tmp_path / "deep" / "dir" / "renamed.bin").write_bytes(payload)
    (tmp_path / "w.pth").write_bytes(b"same name, other content" + b"x" * (len(payload) - 24))
    monkeypatch.setenv("SRBENCH_MIRROR", str(tmp_path))
    assets._mirror_files.cache_clear()
    assert resolve(_asset(payload)) == tmp_path / "deep" / "dir" / "renamed.bin"


def test_offline_missing_file_names_file_url_and_destination(tmp_path, monkeypatch):
    monkeypatch.setenv("SRBENCH_MIRROR", str(tmp_path))
    asset = _asset(b"nothing like this exists")
    with pytest.raises(AssetMissingError) as err:
        resolve(asset)
    msg = str(err.value)
    assert "w.pth" in msg and asset.url in msg and str(assets.cache_path(asset)) in msg and "\n" not in msg


def test_download_verifies_sha256_and_caches(tmp_path, monkeypatch):
    payload = b"served over file://" * 50
    src = tmp_path / "upstream.pth"
    src.write_bytes(payload)
    monkeypatch.setenv("SRBENCH_MIRROR", "")
    asset = _asset(payload, url=src.as_uri())
    path = resolve(asset, allow_download=True)
    assert path == assets.cache_path(asset) and path.read_bytes() == payload
    # A corrupted cache entry is never used: it is removed and fetched again.
    path.write_bytes(b"corrupted")
    assert resolve(asset, allow_download=True).read_bytes() == payload


def test_download_with_wrong_checksum_keeps_nothing(tmp_path, monkeypatch):
    src = tmp_path / "upstream.pth"
    src.write_bytes(b"tampered upstream file")
    asset = Asset("test weights", "w.pth", src.as_uri(), "0" * 64)
    with pytest.raises(ChecksumError, match="sha256"):
        resolve(asset, allow_download=True)
    assert not assets.cache_path(asset).exists()


def test_archive_member_extracted_from_mirrored_archive(tmp_path, monkeypatch):
    member = b"backbone arrays" * 10
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("pkg-0.1/pkg/weights/net.ckpt")
        info.size = len(member)
        tf.addfile(info, io.BytesIO(member))
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "pkg-0.1.tar.gz").write_bytes(buf.getvalue())
    monkeypatch.setenv("SRBENCH_MIRROR", str(tmp_path / "mirror"))
    assets._mirror_files.cache_clear()
    asset = Asset("net", "net.ckpt", "https://example.invalid/pkg-0.1.tar.gz", hashlib.sha256(member).hexdigest(),
                  member="pkg-0.1/pkg/weights/net.ckpt", archive_sha256=hashlib.sha256(buf.getvalue()).hexdigest())
    assert resolve(asset).read_bytes() == member
