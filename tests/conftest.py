"""Test environment: offline, a private SRBENCH_HOME, and ../shared as the mirror when present."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SRBENCH_SHARED", REPO.parent / "shared"))


def pytest_configure(config):
    os.environ["SRBENCH_OFFLINE"] = "1"  # tests never touch the network
    # Never the user's real ~/.cache/srbench, also for what runs before the per-test home below
    # (collection, session fixtures) and for subprocesses.
    os.environ["SRBENCH_HOME"] = tempfile.mkdtemp(prefix="srbench-test-home-")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if SHARED.is_dir():
        mirrors = [str(SHARED / "weights")]
        extra = os.environ.get("SRBENCH_MIRROR")
        if extra:
            mirrors.append(extra)
        os.environ["SRBENCH_MIRROR"] = os.pathsep.join(dict.fromkeys(mirrors))


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SRBENCH_HOME", str(tmp_path_factory.getbasetemp() / "srbench_home"))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (weights, datasets, calibration) is not present")
    return SHARED


@pytest.fixture(scope="session")
def datasets_root(shared) -> Path:
    return shared / "datasets"
