"""Quality-vs-cost plots (PNG and SVG): PSNR and LPIPS against Mult-Adds and params, Pareto front."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

COSTS = {"macs_g": "Mult-Adds (G, hr720)", "params": "Params (K)"}
QUALITY = ("psnr", "lpips")


@dataclass(frozen=True)
class PlotSpec:
    protocol: str
    scale: int
    dataset: str
    metric: str
    cost: str

    @property
    def stem(self) -> str:
        cost = "multadds" if self.cost == "macs_g" else "params"
        return f"plots/{self.protocol.split('@')[0]}_x{self.scale}_{self.dataset}_{self.metric}_vs_{cost}"

    @property
    def png(self) -> str:
        return self.stem + ".png"


def plot_specs(table) -> list[PlotSpec]:
    metrics = [m for m in QUALITY if m in table.metrics]
    return [PlotSpec(table.protocol, table.scale, s, m, c) for s in table.sets for m in metrics for c in COSTS]


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of points not dominated by another with lower-or-equal cost and better-or-equal quality."""
    front = []
    for i, (c, q) in enumerate(points):
        dominated = False
        for j, (c2, q2) in enumerate(points):
            if j == i:
                continue
            better = q2 >= q if higher_is_better else q2 <= q
            strictly = (c2 < c) or (q2 > q if higher_is_better else q2 < q)
            if c2 <= c and better and strictly:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def _points(table, spec: PlotSpec):
    from srbench.report.tables import complexity_of

    pts, baseline = [], None
    for (model, ds), doc in sorted(table.docs.items()):
        if ds != spec.dataset or spec.metric not in doc["metrics"]:
            continue
        value = doc["metrics"][spec.metric]
        cost = complexity_of([doc]).get(spec.cost)
        if model == "bicubic" or not cost:
            baseline = (model, value) if model == "bicubic" else baseline
            continue
        if spec.cost == "params":
            cost = cost / 1e3
        pts.append((model, cost, value))
    return pts, baseline


# Label positions tried in turn (offset in points, alignment): the first that overlaps no label
# placed before and no other marker is used.
_LABEL_SLOTS = [((5, 4), "left"), ((5, -11), "left"), ((-5, 4), "right"), ((-5, -11), "right"),
                ((5, 13), "left"), ((5, -20), "left"), ((-5, 13), "right"), ((-5, -20), "right")]


def _label_points(ax, pts) -> None:
    ax.figure.canvas.draw()  # fixes the limits, so data -> display transforms are final
    to_px = ax.transData.transform
    pt = ax.figure.dpi / 72.0  # display pixels per point
    markers = [to_px((x, y)) for _, x, y in pts]
    placed: list[tuple[float, float, float, float]] = []

    def box(px, off, ha, text):
        w, h = 5.2 * len(text) * pt, 9 * pt  # fontsize 8
        x0 = px[0] + off[0] * pt - (w if ha == "right" else 0)
        y0 = px[1] + off[1] * pt
        return (x0, y0, x0 + w, y0 + h)

    def free(b, own):
        hits_label = any(b[0] < c[2] and c[0] < b[2] and b[1] < c[3] and c[1] < b[3] for c in placed)
        hits_marker = any(b[0] - 3 < m[0] < b[2] + 3 and b[1] - 3 < m[1] < b[3] + 3 for m in markers if m is not own)
        return not hits_label and not hits_marker

    for (name, x, y), px in sorted(zip(pts, markers), key=lambda t: (t[1][0], -t[1][1])):
        choice = next(((off, ha) for off, ha in _LABEL_SLOTS if free(box(px, off, ha, name), px)), _LABEL_SLOTS[0])
        placed.append(box(px, *choice, name))
        ax.annotate(name, (x, y), textcoords="offset points", xytext=choice[0], ha=choice[1], fontsize=8)


def draw(table, spec: PlotSpec, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from srbench.report.tables import metric_title, set_title

    plt.rcParams["svg.hashsalt"] = "srbench"  # stable SVG ids
    pts, baseline = _points(table, spec)
    from srbench.report.tables import metric_spec

    hib = metric_spec(spec.metric).higher_is_better
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    if pts:
        xs = [p[1] for p in pts]
        ys = [p[2] for p in pts]
        front = pareto_front([(p[1], p[2]) for p in pts], hib)
        ax.scatter(xs, ys, color="#8899aa", zorder=2, label="model")
        ax.plot([xs[i] for i in front], [ys[i] for i in front], "-o", color="#d62728", zorder=3,
                label="Pareto front")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
        ax.margins(x=0.15, y=0.12)
        _label_points(ax, pts)
    if baseline is not None:
        ax.axhline(baseline[1], color="#555555", ls="--", lw=1, label="bicubic")
    ax.set_xlabel(COSTS[spec.cost])
    ax.set_ylabel(metric_title(spec.metric))
    ax.set_title(f"{set_title(spec.dataset)} x{spec.scale} — protocol {spec.protocol}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    out = []
    for ext in (".png", ".svg"):
        path = out_dir / (spec.stem + ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, metadata={"Date": None} if ext == ".svg" else {"Software": None})
        out.append(path)
    plt.close(fig)
    return out


def draw_all(tables, out_dir: Path) -> list[Path]:
    written = []
    for t in tables:
        for spec in plot_specs(t):
            written += draw(t, spec, out_dir)
    return written
