"""One output-format switch for every command (sqlite-utils style): table | json | csv | markdown."""

from __future__ import annotations

import csv
import io
import math

FORMATS = ("table", "json", "csv", "markdown")


def _cell(v, floatfmt: str = ".4f"):
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return format(v, floatfmt)
    if v is None:
        return "-"
    return v


def render(rows: list[dict], fmt: str = "table", columns: list[str] | None = None,
           floatfmt: dict[str, str] | None = None, json_doc=None) -> str:
    """Render ``rows`` (dicts sharing keys) in ``fmt``; ``json_doc`` replaces rows for json output."""
    if fmt == "json":
        from srbench.store.results import dumps

        return dumps(json_doc if json_doc is not None else rows)
    columns = columns or (list(rows[0]) if rows else [])
    floatfmt = floatfmt or {}
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c) for c in columns})
        return buf.getvalue().rstrip("\n")
    from tabulate import tabulate

    body = [[_cell(r.get(c), floatfmt.get(c, ".4f")) for c in columns] for r in rows]
    tablefmt = "github" if fmt == "markdown" else "simple"
    return tabulate(body, headers=columns, tablefmt=tablefmt, disable_numparse=True)
