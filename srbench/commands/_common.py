"""Argument helpers and output shared by commands."""

from __future__ import annotations

import contextlib
import re
import shlex
import sys

from srbench.errors import SrbenchError
from srbench.report.formatting import FORMATS, render


def split_list(value: str | None, option: str = "the list") -> list[str]:
    """'a,b' or 'a+b' (EDSR style) -> ['a', 'b']; an empty list is an error naming the option."""
    items = [v.strip() for v in re.split(r"[,+]", value or "") if v.strip()]
    if not items:
        raise SrbenchError(f"{option} is empty: give at least one name")
    return items


def parse_scales(value: str | None) -> list[int]:
    if value is None:
        return []
    out = []
    for v in split_list(value, "--scale"):
        v = v.lower().lstrip("x")
        if not v.isdigit() or int(v) < 1:
            raise SrbenchError(f"bad scale '{v}': use integers like --scale 2,3,4")
        out.append(int(v))
    return list(dict.fromkeys(out))


def parse_limit(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise SrbenchError(f"--limit must be a positive number of images, got '{value}'")
    return int(value)


def add_format(parser, default: str = "table") -> None:
    parser.add_argument("--format", choices=FORMATS, default=default, help="output format on stdout")


def add_execution(parser) -> None:
    parser.add_argument("--workers", type=int, help="parallel worker processes (default: the usable cores)")
    parser.add_argument("--executor", choices=("local", "process", "ray"), help="where images run "
                        "(default: process with --workers > 1, else local; ray: a Ray cluster, srbench[ray])")
    parser.add_argument("--ray-address", help="Ray cluster address for --executor ray: auto or HOST:PORT "
                        "(default: a local Ray cluster of --workers CPUs)")
    parser.add_argument("--ray-ship-images", action="store_true",
                        help="send images to Ray workers through the object store (no shared filesystem)")


@contextlib.contextmanager
def executor_from_args(args):
    from srbench.eval.executors import make_executor

    # Ray's driver thread prints cluster messages (e.g. a worker that died) to stdout: keep stdout for
    # srbench's own output while the executor lives.
    with contextlib.redirect_stdout(sys.stderr) if args.executor == "ray" else contextlib.nullcontext():
        executor = make_executor(args.executor, workers=args.workers, ray_address=args.ray_address,
                                 ship_images=args.ray_ship_images)
        try:
            yield executor
        finally:
            executor.close()


def command_line() -> str | None:
    return "srbench " + shlex.join(sys.argv[1:]) if sys.argv and "srbench" in sys.argv[0] else None


def table_rows(docs: list[dict]) -> list[dict]:
    from srbench.metrics.registry import METRICS
    from srbench.report.precision import backend_of, precision_label

    metric_names: list[str] = []
    for d in docs:
        metric_names += [m for m in d["metrics"] if m not in metric_names]
    rows = []
    for d in docs:
        row = {"model": d["model"], "set": d["dataset"], "scale": f"x{d['scale']}", "protocol": d["protocol"]["name"],
               "precision": precision_label(d), "backend": backend_of(d)}
        for m in metric_names:
            arrow = METRICS.get(m).arrow if m in METRICS else ""
            row[f"{m} {arrow}".strip()] = d["metrics"].get(m)
        whole = d.get("provenance", {}).get("dataset", {}).get("complete", True)
        paper = next((r for r in d.get("published", []) if r.get("kind", "paper") == "paper"), None) if whole else None
        # † marks a published value obtained under another protocol than this run's.
        mark = "" if paper is None or paper.get("protocol") == d["protocol"]["name"] else "†"
        row["paper psnr"] = f"{paper['psnr']:.2f}{mark}" if paper and paper.get("psnr") is not None else None
        row["images"] = d["n_images"]
        rows.append(row)
    return rows


def print_results(docs: list[dict], fmt: str) -> None:
    # .4f everywhere: enough to compare with the "measured" values of the model cards
    print(render(table_rows(docs), fmt, json_doc={"results": docs}))
