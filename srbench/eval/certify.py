"""Agreement certificates: srbench's metrics recomputed on fixed reference inputs against official values.

The official values, their source, the input settings and the tolerances are data
(``srbench/metrics/certificates.toml``); the reference images are pyiqa's five TID2013 calibration pairs, read
from the installed pyiqa wheel (``ResultsCalibra/``). A metric passes when max |delta| (relative where
the certificate says so) is within its tolerance over the images that are not flagged ill-conditioned
(NIQE on flat areas: their values are reported, not judged). Every result's ``metric_info`` carries the
certificate's version and recorded figures (:func:`certificate_info`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from srbench.errors import SrbenchError
from srbench.metrics.certificates import load_certificates


def calibration_dir() -> Path | None:
    """``ResultsCalibra`` of the installed pyiqa wheel (optional extra srbench[pyiqa]), or None."""
    from importlib import metadata

    try:
        path = Path(metadata.distribution("pyiqa").locate_file("ResultsCalibra"))
    except metadata.PackageNotFoundError:
        return None
    return path if (path / "dist_dir").is_dir() and (path / "ref_dir").is_dir() else None


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def certify_metric(name: str, device: str = "cpu", root: Path | None = None) -> dict:
    """Recompute metric ``name`` on its reference inputs: a dict with per-image rows and the verdict."""
    from srbench.metrics.registry import build_metric, get_metric
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import get_protocol

    doc = load_certificates()
    cert = doc["metrics"].get(name)
    if cert is None:
        raise SrbenchError(f"metric '{name}' has no certificate; certified: {', '.join(doc['metrics'])}")
    out = {"metric": name, "version": doc["version"], "source": cert["source"], "tolerance": cert["tolerance"],
           "relative": cert["relative"], "rows": [], "flagged": []}
    root = root or calibration_dir()
    if root is None:
        return {**out, "status": "skipped", "reason": "the reference images ship in the pyiqa wheel: "
                "pip install 'srbench[pyiqa]'"}
    spec = get_metric(name)
    proto = get_protocol("matlab").with_settings(**cert["settings"])
    try:
        metric = build_metric(spec.name, device, **pipeline.metric_settings(proto, spec))
        metric.assets()
    except SrbenchError as exc:  # a missing weight file: the certificate cannot be checked here
        return {**out, "status": "skipped", "reason": str(exc)}
    deltas = []
    for image, official in cert["values"].items():
        dist = _read(root / "dist_dir" / f"{image}.bmp")
        ref = None if cert["kind"] == "nr" else _read(root / "ref_dir" / f"{image}.bmp")
        pair = pipeline.prepare_arrays(proto, dist, ref, 1, {spec.input})
        value, extra = metric.batch_details([pair])[0]
        delta = (value - official) / official if cert["relative"] else value - official
        flagged = bool(extra.get(f"{name}_conditioning", {}).get("flagged"))
        out["rows"].append({"image": image, "official": official, "value": float(value), "delta": float(delta),
                            "flagged": flagged})
        if flagged:
            out["flagged"].append(image)
        else:
            deltas.append(abs(delta))
    out["max_abs_delta"] = float(max(deltas)) if deltas else None
    out["status"] = "pass" if deltas and out["max_abs_delta"] <= cert["tolerance"] else "FAIL"
    return out


def certify(metrics=None, device: str = "cpu") -> list[dict]:
    names = list(metrics) if metrics else list(load_certificates()["metrics"])
    return [certify_metric(n, device) for n in names]
