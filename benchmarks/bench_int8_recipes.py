"""int8 recipes x models x sets x scales: PSNR of each int8 recipe against the fp32 model, measured.

    SRBENCH_DATA=... .venv/bin/python benchmarks/bench_int8_recipes.py \
        [--models imdn,fsrcnn] [--sets set5] [--scales 2,4] [--recipes all|NAME,...]

Prints a markdown table (one row per model, set and scale; one column per recipe: its PSNR loss in dB
against fp32, under the model's default protocol, calibrated on the default calibration patches) and
the mean loss of each recipe. The recipe with the smallest worst-case loss is srbench's default
(srbench.int8_recipes.DEFAULT_RECIPE); docs/deploy.md holds the table measured on the reference machine.
Report-only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time

from srbench.deploy.int8_recipes import DEFAULT_RECIPE, RECIPES, cpu_has_vnni
from srbench.errors import SrbenchError
from srbench.eval.driver import evaluate


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="imdn,fsrcnn")
    p.add_argument("--sets", default="set5")
    p.add_argument("--scales", default="2,4")
    p.add_argument("--recipes", default="all")
    p.add_argument("--data-root")
    args = p.parse_args(argv)
    recipes = list(RECIPES) if args.recipes == "all" else args.recipes.split(",")
    if not cpu_has_vnni():
        recipes = [r for r in recipes if RECIPES[r].backend != "x86" or RECIPES[r].reduce_range]
    rows, losses = [], {r: [] for r in recipes}
    for model in args.models.split(","):
        for scale in map(int, args.scales.split(",")):
            for ds in args.sets.split(","):
                fp32 = evaluate(model, ds, scale, metrics="psnr", data_root=args.data_root)["metrics"]["psnr"]
                cells = []
                for r in recipes:
                    t0 = time.perf_counter()
                    try:
                        doc = evaluate(model, ds, scale, metrics="psnr", data_root=args.data_root, precision="int8",
                                       calibration={"recipe": r})
                    except SrbenchError as exc:
                        cells.append(f"refused ({exc})")
                        continue
                    loss = fp32 - doc["metrics"]["psnr"]
                    losses[r].append(loss)
                    cells.append(f"{-loss:+.3f}")
                    print(f"{model} x{scale} {ds} {r}: {doc['metrics']['psnr']:.3f} dB (fp32 {fp32:.3f}), "
                          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
                rows.append(f"| {model} | {ds} | x{scale} | {fp32:.3f} | " + " | ".join(cells) + " |")
    print("int8 PSNR minus fp32 PSNR (dB), model's default protocol; "
          f"default recipe {DEFAULT_RECIPE}; CPU VNNI: {cpu_has_vnni()}\n")
    print("| model | set | scale | fp32 PSNR | " + " | ".join(recipes) + " |")
    print("|---|---|---|---|" + "---|" * len(recipes))
    print("\n".join(rows))
    print("| **worst loss** | | | | " + " | ".join(f"{max(v):.3f}" if v else "-" for v in losses.values()) + " |")
    print("| **mean loss** | | | | " + " | ".join(f"{sum(v) / len(v):.3f}" if v else "-" for v in losses.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
