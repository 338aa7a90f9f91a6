"""Metric certificates: each certified metric's official reference values, with their source
(``certificates.toml``), as recorded in results' ``metric_info``.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

CERTIFICATES = Path(__file__).with_name("certificates.toml")


@lru_cache(maxsize=1)
def load_certificates() -> dict:
    with open(CERTIFICATES, "rb") as fh:
        return tomllib.load(fh)


def certificate_info(name: str) -> dict | None:
    """The certificate of metric ``name`` as recorded (version, source, tolerance, measured max |delta|)."""
    doc = load_certificates()
    cert = doc["metrics"].get(name)
    if cert is None:
        return None
    return {"version": doc["version"], "source": cert["source"], "images": len(cert["values"]),
            "tolerance": cert["tolerance"], "relative": cert["relative"], "max_abs_delta": cert["measured"]}
