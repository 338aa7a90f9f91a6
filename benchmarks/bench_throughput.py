"""End-to-end throughput, side by side in one run (report-only; this machine is shared and noisy).

    .venv/bin/python benchmarks/bench_throughput.py [--images 20] [--model tpsr] [--protocol matlab] [--ray]

Runs ``srbench run --model M --set urban100 --limit N --protocol P --metrics psnr,ssim,lpips,niqe`` in-process with
``--workers 1`` and with all usable cores (and, with --ray, on a local Ray cluster of the same
cores), each into a fresh results folder, and prints seconds per image and the speed-up. The
values of every configuration are checked to be identical. Needs the sets (SRBENCH_DATA) and the
weights (SRBENCH_MIRROR or the cache).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def one(label: str, args: list[str], out: Path) -> tuple[float, dict]:
    from srbench.cli import main
    from srbench.store.results import load_results

    t0 = time.perf_counter()
    rc = main(["run", *args, "--out", str(out), "--format", "csv"])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"{label}: srbench run failed ({rc})")
    (doc,) = load_results(out)
    return seconds, {i["name"]: tuple(i[m] for m in doc["metrics"]) for i in doc["images"]}


def main() -> None:
    from srbench.eval.executors import usable_cores

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--model", default="tpsr")
    # The figures were taken under the canonical protocol (LPIPS AlexNet); TPSR's own protocol
    # scores LPIPS with VGG16, about 20x the work per image.
    p.add_argument("--protocol", default="matlab")
    p.add_argument("--ray", action="store_true", help="also the Ray executor on a local cluster")
    a = p.parse_args()
    base = ["--model", a.model, "--set", "urban100", "--scale", "4", "--limit", str(a.images),
            "--protocol", a.protocol, "--metrics", "psnr,ssim,lpips,niqe"]
    cores = usable_cores()
    configs = [("workers 1", ["--workers", "1"]), (f"workers {cores}", ["--workers", str(cores)])]
    if a.ray:
        configs.append((f"ray ({cores} CPUs)", ["--executor", "ray", "--workers", str(cores)]))
    rows, values = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in configs:
            seconds, v = one(label, base + extra, Path(tmp) / label.replace(" ", "_"))
            if values is not None and v != values:
                raise SystemExit(f"{label}: per-image values differ from workers 1")
            values = v
            rows.append((label, seconds))
    ref = rows[0][1]
    print(f"{a.model} Urban100 x4, protocol {a.protocol}, {a.images} images, psnr+ssim+lpips+niqe, "
          f"{cores} usable cores")
    print(f"{'configuration':<20} {'total s':>8} {'s/image':>8} {'speed-up':>9}")
    for label, seconds in rows:
        print(f"{label:<20} {seconds:8.1f} {seconds / a.images:8.2f} {ref / seconds:8.2f}x")
    print("targets: all cores >= 1.8x workers 1; <= 0.4 s per image with all four metrics")


if __name__ == "__main__":
    main()
