"""Networks trained on pixel values in [0, 255]: srbench's [0, 1] convention at the edges.
"""

from __future__ import annotations


class Range255:
    """Mixin for networks that work on RGB in [0, 255] (TPSR, RFDN, RLFN): srbench's [0, 1] in, [0, 1]
    units out. ``class XWrapper(Range255, X)`` keeps X's official state_dict keys."""

    def forward(self, x):
        return super().forward(x * 255.0) / 255.0
