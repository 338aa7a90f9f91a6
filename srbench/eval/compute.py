"""``srbench.compute``: one metric on one image under a protocol (the pipeline prepares the pair).
"""

from __future__ import annotations

from srbench.metrics.registry import build_metric, get_metric


def compute(name: str, sr, hr=None, *, scale: int | None = None, protocol: str = "matlab", device: str = "cpu",
            **settings) -> float:
    """One metric on one image (uint8 HxWx3, or HxW for a grey image) under ``protocol``.

    ``settings`` override protocol fields (validated), e.g. ``compute("niqe", img, nr_luma="gray",
    nr_shave=0)`` is NIQE exactly as the official release computes it. A no-reference metric needs
    no ``hr``; ``scale`` is needed where the protocol shaves by the scale. A single-channel image
    follows the grey rule of the protocol, as in :func:`srbench.evaluate`.
    """
    from srbench.protocol import pipeline
    from srbench.protocol.protocols import get_protocol

    spec = get_metric(name)
    proto = get_protocol(protocol).with_settings(**settings)
    metric = build_metric(spec.name, device, **pipeline.metric_settings(proto, spec))
    pair = pipeline.prepare_arrays(proto, sr, hr, scale, {spec.input})
    return float(metric(pair))
