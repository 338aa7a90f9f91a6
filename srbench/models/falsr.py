"""FALSR-A/B/C (Chu et al., "Fast, Accurate and Lightweight Super-Resolution with Neural
Architecture Search", ICPR 2020), ported from the frozen TensorFlow graphs of
falsr/FALSR@70f4822 ``pretrained_model/FALSR-{A,B,C}.pb`` (x2 only).

The graphs are read with :mod:`srbench.models.tf_graph` (protobuf, no TensorFlow) and converted to a
PyTorch state_dict by explicit name rules (:func:`convert_graph`). The architecture is written out
below (:data:`ARCHS`, from SPEC §3); the converter derives the same description from the graph's
own wiring (:func:`arch_from_graph`) and refuses a graph that differs.

The network sees what FALSR's ``calculate.py`` feeds it: the Y of full-range YPbPr of the LR, and
Pb, Pr of the LR upscaled x2 with PIL bicubic (``scipy.misc.imresize`` on uint8); it predicts Y
only, and a fixed 1x1 colour conv (a buffer, not learnable) turns 255 Y and 255 (PbPr + 0.5) into
RGB, clipped to [0, 255] and divided by 255 inside the graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srbench.errors import SrbenchError

F0_CHANNELS = 32  # n32s1: the first conv, and the tail conv before depth_to_space
# Cell type as named in the graph: conv | invertBotConE<e> | groupConG<g>, then f<C>_k<K>_b<B>_<isskip|noskip>.
CELL_RE = re.compile(r"(conv|invertBotConE(\d+)|groupConG(\d+))_f(\d+)_k(\d+)_b(\d+)_(isskip|noskip)")

# FALSR-{A,B,C}: each cell = (type, inputs concatenated in this order); "F0" is the first conv's
# output, "cN" cell N's. Read off SPEC §3; the converter checks them against each graph's wiring.
ARCHS = {
    "A": {
        "cells": (
            ("conv_f64_k3_b4_isskip", ("F0",)),
            ("conv_f48_k1_b1_isskip", ("c0",)),
            ("conv_f64_k3_b4_isskip", ("c1",)),
            ("conv_f64_k3_b4_isskip", ("c1", "c2")),
            ("conv_f64_k3_b4_isskip", ("F0", "c1", "c3")),
            ("conv_f64_k1_b4_noskip", ("c4",)),
            ("conv_f64_k3_b4_isskip", ("F0", "c1", "c4", "c5")),
        ),
        "tail": ("F0", "c0", "c1", "c2", "c3", "c4", "c5", "c6"),
    },
    "B": {
        "cells": (
            ("invertBotConE2_f16_k3_b1_isskip", ("F0",)),
            ("invertBotConE2_f48_k1_b2_isskip", ("F0", "c0")),
            ("conv_f16_k1_b2_isskip", ("F0", "c0", "c1")),
            ("invertBotConE2_f32_k3_b4_noskip", ("c2",)),
            ("conv_f64_k3_b2_noskip", ("c1", "c2", "c3")),
            ("groupConG4_f16_k3_b4_noskip", ("c1", "c3", "c4")),
            ("conv_f16_k3_b1_isskip", ("F0", "c0", "c1", "c5")),
        ),
        "tail": ("c0", "c3", "c5", "c6"),
    },
    "C": {
        "cells": (
            ("groupConG2_f32_k1_b1_noskip", ("F0",)),
            ("conv_f64_k1_b4_noskip", ("F0", "c0")),
            ("invertBotConE2_f48_k3_b4_noskip", ("c1",)),
            ("groupConG2_f32_k1_b1_noskip", ("c0", "c2")),
            ("groupConG4_f32_k1_b1_isskip", ("F0", "c3")),
            ("conv_f48_k1_b4_noskip", ("F0", "c4")),
            ("conv_f16_k3_b1_isskip", ("c0", "c5")),
        ),
        "tail": ("F0", "c1", "c5", "c6"),
    },
}

# calculate.py's colour conversion: skimage rgb2ypbpr rows, on RGB in [0, 1].
LUMA = (0.299, 0.587, 0.114)
PBPR_FROM_RGB = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
# The graph's fixed 1x1 conv, kernel [in = (Y, Pb, Pr)][out = (R, G, B)] on (255 Y, 255 (PbPr + 0.5)),
# exactly as stored (Pr -> R is 1.4019995, not 1.402). Its bias assumes chroma offset 128
# (128 * (-1.402, 0.34414 + 0.71414, -1.772)) while the graph adds 0.5 * 255 = 127.5: a constant
# colour shift that belongs to the released model.
COLOUR_KERNEL = ((1.0, 1.0, 1.0), (0.0, -0.34414, 1.772), (1.4019995, -0.71414, 0.0))
COLOUR_BIAS = (-1.402 * 128, (0.34414 + 0.71414) * 128, -1.772 * 128)


@dataclass(frozen=True)
class CellType:
    kind: str  # "conv" | "invertBot" | "group"
    channels: int
    kernel: int
    blocks: int
    skip: bool
    expansion: int = 0  # invertBot
    groups: int = 1  # group

    @classmethod
    def parse(cls, name: str) -> CellType:
        m = CELL_RE.fullmatch(name)
        if m is None:
            raise SrbenchError(f"FALSR: unknown cell type '{name}'")
        op, e, g, c, k, b, skip = m.groups()
        kind = "conv" if op == "conv" else "invertBot" if e else "group"
        return cls(kind, int(c), int(k), int(b), skip == "isskip", int(e or 0), int(g or 1))


def _conv(cin: int, cout: int, k: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups)  # TF "SAME" for odd k, stride 1


class ConvCell(nn.Module):
    """``conv`` (and ``groupConG<g>``): B x [conv KxK, ReLU]; isskip with B >= 2 adds block 0's output
    to the last block's. Grouped convs: TF splits input and kernel into g parts, convolves each and
    adds the bias after the concat, which is ``nn.Conv2d(groups=g)``."""

    def __init__(self, cin: int, t: CellType):
        super().__init__()
        if t.kind == "group" and t.skip and t.blocks >= 2:
            raise SrbenchError("FALSR: groupConG cells with isskip and B >= 2 occur in no released model; "
                               "their wiring is unverified")
        self.skip = t.skip and t.blocks >= 2
        self.blocks = nn.ModuleList(_conv(cin if i == 0 else t.channels, t.channels, t.kernel, t.groups)
                                    for i in range(t.blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = x = F.relu(self.blocks[0](x))
        for conv in self.blocks[1:]:
            x = F.relu(conv(x))
        return first + x if self.skip else x


class InvertedBlock(nn.Module):
    """Conv KxK (C -> eC) ReLU, depthwise 3x3 (eC, with bias) ReLU, linear conv KxK (eC -> C), + input."""

    def __init__(self, c: int, k: int, e: int):
        super().__init__()
        self.expand = _conv(c, e * c, k)
        self.depthwise = _conv(e * c, e * c, 3, groups=e * c)
        self.project = _conv(e * c, c, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(F.relu(self.depthwise(F.relu(self.expand(x))))) + x


class InvertBotCell(nn.Module):
    """``invertBotConE<e>``: S = linear 1x1 (Cin -> C), then B inverted-bottleneck blocks; isskip with
    B >= 2 adds S once more at the end."""

    def __init__(self, cin: int, t: CellType):
        super().__init__()
        self.skip = t.skip and t.blocks >= 2
        self.supple = _conv(cin, t.channels, 1)
        self.blocks = nn.ModuleList(InvertedBlock(t.channels, t.kernel, t.expansion) for _ in range(t.blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x = self.supple(x)
        for block in self.blocks:
            x = block(x)
        return s + x if self.skip else x


def depth_to_space(x: torch.Tensor, b: int) -> torch.Tensor:
    """TensorFlow ``depth_to_space`` (DCR order; ``nn.PixelShuffle`` is CRD and differs)."""
    n, c, h, w = x.shape
    return x.view(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c // (b * b), h * b, w * b)


class FALSR(nn.Module):
    """One FALSR network with FALSR's own colour pipeline: ``forward`` maps RGB [0, 1] (N x 3 x h x w,
    uint8 / 255) to RGB [0, 1] at 2x; :meth:`forward_ypbpr` is the TensorFlow graph itself."""

    def __init__(self, cells, tail):
        super().__init__()
        self.cell_names = tuple(name for name, _ in cells)
        self.sources = tuple(tuple(src) for _, src in cells)
        self.tail_sources = tuple(tail)
        width = {"F0": F0_CHANNELS}
        self.head = _conv(1, F0_CHANNELS, 3)
        self.cells = nn.ModuleList()
        for i, (name, src) in enumerate(cells):
            t = CellType.parse(name)
            missing = [s for s in src if s not in width]
            if missing:
                raise SrbenchError(f"FALSR: cell {i} reads {', '.join(missing)}, which do not exist before it")
            cin = sum(width[s] for s in src)
            self.cells.append(InvertBotCell(cin, t) if t.kind == "invertBot" else ConvCell(cin, t))
            width[f"c{i}"] = t.channels
        self.tail = _conv(sum(width[s] for s in tail), F0_CHANNELS, 3)
        self.yout = _conv(F0_CHANNELS // 4, 1, 3)
        # Fixed transforms: buffers, so never learnable, counted, or part of the state_dict.
        kernel = torch.tensor(COLOUR_KERNEL, dtype=torch.float32).T.reshape(3, 3, 1, 1)  # (out, in, 1, 1)
        self.register_buffer("colour_weight", kernel, persistent=False)
        self.register_buffer("colour_bias", torch.tensor(COLOUR_BIAS, dtype=torch.float32), persistent=False)

    @staticmethod
    def _cat(feats: dict, names) -> torch.Tensor:
        return feats[names[0]] if len(names) == 1 else torch.cat([feats[n] for n in names], dim=1)

    def forward_ypbpr(self, y: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        """The graph: Y (N x 1 x h x w, [0, 1]) and PbPr (N x 2 x 2h x 2w, [-0.5, 0.5]) -> RGB [0, 1]."""
        return self.colour(self.forward_y(y), pbpr)

    def forward_y(self, y: torch.Tensor) -> torch.Tensor:
        """The learnt part: LR Y (N x 1 x h x w) -> SR Y (N x 1 x 2h x 2w), [0, 1] units."""
        f0 = F.relu(self.head(y))
        feats = {"F0": f0}
        for i, cell in enumerate(self.cells):
            feats[f"c{i}"] = cell(self._cat(feats, self.sources[i]))
        t = F.relu(self.tail(self._cat(feats, self.tail_sources))) + f0
        return self.yout(depth_to_space(t, 2))

    def colour(self, y_sr: torch.Tensor, pbpr: torch.Tensor) -> torch.Tensor:
        """The graph's fixed colour transform: SR Y and upscaled PbPr -> RGB [0, 1], clipped."""
        ycc = torch.cat([255 * y_sr, (pbpr + 0.5) * 255], dim=1)
        rgb = F.conv2d(ycc, self.colour_weight, self.colour_bias)
        return rgb.clamp(0, 255) / 255

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Y, PbPr) as calculate.py computes them from an RGB LR in [0, 1] (uint8 / 255)."""
        # float64 coefficients whatever the module's dtype (model.to(dtype) would round a buffer)
        luma = torch.tensor(LUMA, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
        y = (x.double() * luma).sum(dim=1, keepdim=True).to(x.dtype)
        # scipy.misc.imresize worked on uint8 through PIL: round the LR back to uint8 for that step.
        u8 = np.clip(np.rint(x.detach().double().cpu().numpy() * 255), 0, 255).astype(np.uint8)
        rows = np.array(PBPR_FROM_RGB, dtype=np.float64)
        pbpr = []
        for img in u8:
            h, w = img.shape[1:]
            up = _pil_bicubic(img.transpose(1, 2, 0), 2 * w, 2 * h)
            pbpr.append((up.astype(np.float64) / 255.0) @ rows.T)
        pbpr = torch.from_numpy(np.stack(pbpr).transpose(0, 3, 1, 2).copy())
        return y, pbpr.to(device=x.device, dtype=x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            raise SrbenchError(f"FALSR takes RGB input (N x 3 x h x w), got {x.shape[1]} channel(s)")
        return self.forward_ypbpr(*self.inputs(x))


def _pil_bicubic(rgb_u8: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb_u8), "RGB").resize((width, height), Image.BICUBIC))


# --- conversion from the frozen graph ------------------------------------------------------------

_TYPE = r"(?:conv|invertBotConE\d+|groupConG\d+)_f\d+_k\d+_b\d+_(?:isskip|noskip)"
# TF variable (scope relative to the graph's top scope) -> state_dict key; {n} are the regex groups.
WEIGHT_RULES = (
    (re.compile(r"n32s1/c/(kernel|bias)"), "head.{0}"),
    (re.compile(r"n32s1/2/0/(kernel|bias)"), "tail.{0}"),
    (re.compile(r"yout/(kernel|bias)"), "yout.{0}"),
    (re.compile(rf"cell(\d+)/{_TYPE}_conv_supple/(kernel|bias)"), "cells.{0}.supple.{1}"),
    (re.compile(rf"cell(\d+)/{_TYPE}_b(\d+)_conv_1/(kernel|bias)"), "cells.{0}.blocks.{1}.expand.{2}"),
    (re.compile(rf"cell(\d+)/{_TYPE}_b(\d+)depth_wise/(W|b)_depthwise2d"), "cells.{0}.blocks.{1}.depthwise.{2}"),
    (re.compile(rf"cell(\d+)/{_TYPE}_b(\d+)_conv_2/(kernel|bias)"), "cells.{0}.blocks.{1}.project.{2}"),
    (re.compile(rf"cell(\d+)/{_TYPE}_b(\d+)/(kernel|bias|W|b)"), "cells.{0}.blocks.{1}.{2}"),  # conv, groupConG
)
_PARAM = {"kernel": "weight", "W": "weight", "bias": "bias", "b": "bias"}
OUTPUT_NODE = "target"  # the graph's output is <scope>/target


def _scope(graph) -> str:
    outs = [n.name for n in graph.nodes if n.name.rsplit("/", 1)[-1] == OUTPUT_NODE]
    if len(outs) != 1:
        raise SrbenchError("no single '<scope>/target' output node")
    return outs[0][: -len(OUTPUT_NODE)]


def convert_graph(graph, what: str = "FALSR graph") -> dict[str, np.ndarray]:
    """state_dict (numpy, PyTorch layout) from the graph's Const nodes: conv kernels HWIO ->
    OIHW (``transpose(3, 2, 0, 1)``; grouped kernels too, their out-channel blocks are the groups),
    depthwise [k, k, C, 1] -> [C, 1, k, k] (``transpose(2, 3, 0, 1)``)."""
    scope = _scope(graph)
    state, unknown = {}, []
    for name, value in graph.consts.items():
        rel = name.removeprefix(scope)
        for rule, key in WEIGHT_RULES:
            m = rule.fullmatch(rel)
            if m:
                *idx, tf_param = m.groups()
                param = _PARAM[tf_param]
                if value.ndim == 4:
                    value = value.transpose(2, 3, 0, 1) if "depthwise" in key else value.transpose(3, 2, 0, 1)
                state[key.format(*idx, param)] = np.ascontiguousarray(value, dtype=np.float32)
                break
        else:
            if value.dtype == np.float32 and value.ndim >= 1 and rel not in ("Const", "Const_1"):
                unknown.append(rel)
    if unknown:
        raise SrbenchError(f"{what}: weight tensors srbench does not know how to map: {', '.join(unknown[:4])}")
    _check_colour(graph.consts, scope, what)
    return state


def _check_colour(consts: dict, scope: str, what: str) -> None:
    kernel, bias = consts.get(scope + "Const"), consts.get(scope + "Const_1")
    want_k = np.array(COLOUR_KERNEL, dtype=np.float32).reshape(1, 1, 3, 3)
    want_b = np.array(COLOUR_BIAS, dtype=np.float32)
    if kernel is None or bias is None or not (np.array_equal(kernel, want_k) and np.array_equal(bias, want_b)):
        raise SrbenchError(f"{what}: the graph's colour conversion (Const, Const_1) is not FALSR's")


def arch_from_graph(graph) -> dict:
    """``{"cells": ((type, sources), ...), "tail": sources}`` read off the graph's wiring, in the form
    of :data:`ARCHS`.

    Every op node gets a region: ``F0`` (the first conv), ``cN`` (nodes under ``cellN/``, and
    unscoped Adds whose inputs all lie in one cell: the inverted-bottleneck residuals), ``tail``
    (the conv after the last concat), ``concat`` (the unscoped concats that feed cells and tail) or
    ``out`` (the rest: + F0, depth_to_space, colour). The sources of a cell or of the tail are the
    regions whose output nodes feed it, directly or through a concat.
    """
    scope = _scope(graph)
    nodes = graph.by_name

    def producer(inp):
        return inp.lstrip("^").split(":")[0]

    def is_const(name):  # a Const, or its ``/read`` Identity
        n = nodes[name]
        return n.op == "Const" or (n.op == "Identity" and nodes[producer(n.inputs[0])].op == "Const")

    region: dict[str, str] = {}
    cell_type: dict[str, str] = {}
    for n in graph.nodes:
        if n.op in ("Placeholder",) or is_const(n.name):
            continue
        r = n.name.removeprefix(scope)
        m = re.match(rf"cell(\d+)/({_TYPE})", r)
        if m:
            region[n.name] = f"c{m.group(1)}"
            cell_type.setdefault(f"c{m.group(1)}", m.group(2))
        elif r.startswith("n32s1/c/"):
            region[n.name] = "F0"
        elif r.startswith("n32s1/2/"):
            region[n.name] = "tail"
        elif r.startswith("concat_layer"):
            region[n.name] = "concat"
        elif r.startswith("elementwise_layer"):
            ins = {region.get(producer(i)) for i in n.inputs if not is_const(producer(i))}
            region[n.name] = ins.pop() if len(ins) == 1 else "out"
        else:
            region[n.name] = "out"

    def sources_of(r):
        """Regions feeding region ``r`` from outside, in concat order (one external input expected)."""
        ext = []
        for name, reg in region.items():
            if reg != r:
                continue
            for i in nodes[name].inputs:
                p = producer(i)
                if p in region and region[p] != r and p not in ext:
                    ext.append(p)
        if len(ext) != 1:
            raise SrbenchError(f"{r} has {len(ext)} external inputs, expected one")
        feed = nodes[ext[0]]
        if region[ext[0]] == "concat":
            ins = [producer(i) for i in feed.inputs if not is_const(producer(i))]
        else:
            ins = [ext[0]]
        return tuple(region[p] for p in ins)

    n_cells = len(cell_type)
    if n_cells == 0 or sorted(cell_type) != sorted(f"c{i}" for i in range(n_cells)):
        raise SrbenchError("no cells 'cell0/', 'cell1/', ...")
    cells = tuple((cell_type[f"c{i}"], sources_of(f"c{i}")) for i in range(n_cells))
    return {"cells": cells, "tail": sources_of("tail")}


def load_graph_state(path, expected: dict, what: str) -> dict[str, np.ndarray]:
    """Read a FALSR ``.pb``, check that its wiring is ``expected`` (an :data:`ARCHS` entry), convert."""
    from srbench.models.tf_graph import read_graph

    graph = read_graph(path)
    try:
        arch = arch_from_graph(graph)
    except (SrbenchError, KeyError, IndexError) as exc:
        detail = str(exc) if isinstance(exc, SrbenchError) else "unexpected wiring"
        raise SrbenchError(f"{what}: {Path(path).name} is not a FALSR graph ({detail}); is this the right file "
                           "for this model?") from None
    want = {"cells": tuple((t, tuple(s)) for t, s in expected["cells"]), "tail": tuple(expected["tail"])}
    if arch != want:
        diffs = [f"cell{i}: file has {a[0]} <- {'+'.join(a[1])}, model needs {b[0]} <- {'+'.join(b[1])}"
                 for i, (a, b) in enumerate(zip(arch["cells"], want["cells"])) if a != b]
        if arch["tail"] != want["tail"]:
            diffs.append(f"tail: file has {'+'.join(arch['tail'])}, model needs {'+'.join(want['tail'])}")
        if len(arch["cells"]) != len(want["cells"]):
            diffs.append(f"file has {len(arch['cells'])} cells, model needs {len(want['cells'])}")
        raise SrbenchError(f"{what}: {Path(path).name} is a different FALSR network ("
                           + "; ".join(diffs[:3]) + "); is this the right file for this model?")
    return convert_graph(graph, what)


def build(card, scale: int, pretrained: bool = True) -> nn.Module:
    """FALSR-<card.arch.variant> (A, B or C), x2."""
    from srbench.models.weights import load_state_dict_strict, resolve_weights

    if scale != 2:
        raise SrbenchError(f"FALSR is x2 only, not x{scale}")
    variant = card.arch.get("variant")
    if variant not in ARCHS:
        raise SrbenchError(f"{card.name}: unknown FALSR variant '{variant}' (known: {', '.join(ARCHS)})")
    model = FALSR(**ARCHS[variant])
    if pretrained:
        path, asset = resolve_weights(card, scale)
        state = load_graph_state(path, ARCHS[variant], asset.name)
        load_state_dict_strict(model, state, asset.name)
    return model


__all__ = ["ARCHS", "FALSR", "arch_from_graph", "build", "convert_graph", "depth_to_space", "load_graph_state"]
