"""Argument helpers shared by commands."""

from __future__ import annotations

import re

from ..errors import SrbenchError
from ..formatting import FORMATS


def split_list(value: str | None) -> list[str]:
    """'a,b' or 'a+b' (EDSR style) -> ['a', 'b']."""
    if not value:
        return []
    return [v.strip() for v in re.split(r"[,+]", value) if v.strip()]


def parse_scales(value: str | None) -> list[int]:
    out = []
    for v in split_list(value):
        v = v.lower().lstrip("x")
        if not v.isdigit() or int(v) < 1:
            raise SrbenchError(f"bad scale '{v}': use integers like --scale 2,3,4")
        out.append(int(v))
    return out


def add_format(parser, default: str = "table") -> None:
    parser.add_argument("--format", choices=FORMATS, default=default, help="output format on stdout")
