"""FALSR-A/B/C (frozen TensorFlow graphs read without TensorFlow) and FSRCNN / FSRCNN-s (official
MATLAB .mat): the graph reader against the JSON/npz dumps of each graph, the port against
TensorFlow's own outputs, parameter counts and Mult-Adds of SPEC §3/§4, strict loading with clear
errors, and the Set5 numbers of SPEC §2 / MANIFEST.tsv reproduced to 0.005 dB.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from fractions import Fraction

import numpy as np
import pytest
import scipy.io
import torch

from srbench.cost.complexity import count_ops, count_params, count_weights
from srbench.errors import SrbenchError
from srbench.imaging.imresize import imresize
from srbench.imaging.io import read_image
from srbench.models.builder import build_model
from srbench.models.falsr import ARCHS, FALSR, arch_from_graph, depth_to_space
from srbench.models.registry import get_card
from srbench.models.tf_graph import _graphdef_class, parse_graph, read_graph
from srbench.store.assets import Asset

VARIANTS = ("A", "B", "C")
FSRCNN_CASES = [(n, s) for n in ("fsrcnn", "fsrcnn-s") for s in (2, 3, 4)]

# SPEC §3: learnable parameters (FALSR: fixed colour conv excluded) and tail widths.
FALSR_PARAMS = {"A": 1_021_401, "B": 324_745, "C": 426_569}
FALSR_TAIL_CHANNELS = {"A": 464, "B": 80, "C": 160}
# SPEC §3: FSRCNN 12,464 weights + 173 biases + 7 PReLU; FSRCNN-s 3,937 weights (paper). FSRCNN-s
# biases and slopes by hand: d + s + m*s + d + 1 = 32 + 5 + 5 + 32 + 1 = 75, and m + 3 = 4 PReLUs.
FSRCNN_WEIGHTS = {"fsrcnn": 12_464, "fsrcnn-s": 3_937}
FSRCNN_PARAMS = {"fsrcnn": 12_464 + 173 + 7, "fsrcnn-s": 3_937 + 75 + 4}

# SPEC §2 "Set5 measured" (official weights and code, the paper's own protocol) and the paper values.
SET5 = {  # (model, scale): (protocol, psnr, ssim or None, paper psnr or None)
    ("falsr-a", 2): ("falsr", 37.8218, 0.9595, 37.82),
    ("falsr-b", 2): ("falsr", 37.6141, 0.9585, 37.61),
    ("falsr-c", 2): ("falsr", 37.6605, 0.9586, 37.66),
    ("fsrcnn", 2): ("fsrcnn", 36.997, None, 37.00),
    ("fsrcnn", 3): ("fsrcnn", 33.155, None, 33.16),
    ("fsrcnn", 4): ("fsrcnn", 30.704, None, 30.71),
    # MANIFEST.tsv "Set5 Y-PSNR measured" for FSRCNN-s (official .mat, official Y-only test code).
    ("fsrcnn-s", 2): ("fsrcnn", 36.572, None, None),
    ("fsrcnn-s", 3): ("fsrcnn", 32.604, None, None),
    ("fsrcnn-s", 4): ("fsrcnn", 30.111, None, None),
}


def _falsr_file(shared, v: str, suffix: str = ".pb"):
    return shared / "weights" / "falsr" / f"FALSR-{v}{suffix}"


def _builder_model(name: str, scale: int):
    """The module as the builder returns it (random init, requires_grad as the port set it)."""
    from importlib import import_module

    card = get_card(name)
    module, attr = card.builder.split(":")
    return getattr(import_module(module), attr)(card, scale, pretrained=False)


# --- the graph reader -----------------------------------------------------------------------------

@pytest.mark.parametrize("v", VARIANTS)
def test_graph_reader_matches_json_and_npz(shared, v):
    graph = read_graph(_falsr_file(shared, v))
    ref_nodes = json.loads(_falsr_file(shared, v, "_graph.json").read_text())
    assert [n.name for n in graph.nodes] == [n["name"] for n in ref_nodes]
    for node, ref in zip(graph.nodes, ref_nodes):
        assert node.op == ref["op"] and list(node.inputs) == ref["input"], node.name
        for key, value in ref["attr"].items():  # the dump keeps strides, padding, block_size, num_split
            assert node.attrs[key] == value, (node.name, key)
    with np.load(_falsr_file(shared, v, "_consts.npz"), allow_pickle=False) as ref_consts:
        consts = {name.replace("/", "__"): value for name, value in graph.consts.items()}
        assert sorted(consts) == sorted(ref_consts.files)
        for key in ref_consts.files:
            ref = ref_consts[key]
            assert consts[key].dtype == ref.dtype and consts[key].shape == ref.shape, key
            assert np.array_equal(consts[key], ref), key


def test_graph_reader_tensor_encodings():
    """TensorProto's typed fields, per tensorflow/core/framework/tensor.proto: a short *_val list is
    padded with its last value, an empty one means zeros, tensor_content is little-endian bytes."""
    msg = _graphdef_class()()

    def const(name, dtype, shape):
        node = msg.node.add(name=name, op="Const")
        t = node.attr["value"].tensor
        t.dtype = dtype
        for d in shape:
            t.tensor_shape.dim.add(size=d)
        node.attr["dtype"].type = dtype
        return t

    const("filled", 1, (2, 3)).float_val.extend([1.5, -2.0])
    const("zeros", 3, (2,))
    const("raw", 1, (2, 2)).tensor_content = np.array([[1, 2], [3, 4]], "<f4").tobytes()
    const("int64", 9, (3,)).int64_val.extend([7, 8, 2**40])
    const("scalar", 3, ()).int_val.append(-5)
    node = msg.node.add(name="conv", op="Conv2D", input=["raw", "filled:1", "^zeros"])
    node.attr["padding"].s = b"SAME"
    node.attr["strides"].list.i.extend([1, 2, 2, 1])
    node.attr["use_cudnn_on_gpu"].b = True
    graph = parse_graph(msg.SerializeToString())
    c = graph.consts
    assert c["filled"].dtype == np.float32 and c["filled"].tolist() == [[1.5, -2.0, -2.0], [-2.0, -2.0, -2.0]]
    assert c["zeros"].dtype == np.int32 and c["zeros"].tolist() == [0, 0]
    assert c["raw"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert c["int64"].tolist() == [7, 8, 2**40] and c["scalar"].shape == () and int(c["scalar"]) == -5
    conv = graph.node("conv")
    assert conv.inputs == ("raw", "filled:1", "^zeros")
    assert conv.attrs == {"padding": "SAME", "strides": [1, 2, 2, 1], "use_cudnn_on_gpu": True}
    assert graph.node("zeros").attrs["dtype"] == np.dtype(np.int32)


def test_graph_reader_rejects_other_files(shared):
    with pytest.raises(SrbenchError, match="not a readable TensorFlow GraphDef"):
        read_graph(shared / "weights" / "fsrcnn" / "official_mat" / "FSRCNN_x2.mat")


# --- FALSR architecture ---------------------------------------------------------------------------

@pytest.mark.parametrize("v", VARIANTS)
def test_falsr_wiring_equals_the_graph(shared, v):
    """ARCHS (written from SPEC §3) is what each released graph actually wires."""
    assert arch_from_graph(read_graph(_falsr_file(shared, v))) == ARCHS[v]


@pytest.mark.parametrize("v", VARIANTS)
def test_falsr_param_counts(v):
    model = _builder_model(f"falsr-{v.lower()}", 2)
    assert count_params(model) == sum(p.numel() for p in model.parameters()) == FALSR_PARAMS[v]
    assert all(p.requires_grad for p in model.parameters())
    assert model.tail.in_channels == FALSR_TAIL_CHANNELS[v]
    # The colour conv is fixed: buffers outside the state_dict, never learnable.
    assert {"colour_weight", "colour_bias"} <= {n for n, _ in model.named_buffers()}
    assert not any(k.startswith("colour") for k in model.state_dict())


def test_falsr_c_paper_count_leaves_out_the_c1_tail_link():
    """SPEC §3/§4: FALSR-C without the c1 -> tail link has 408,137 params and 93.71 G (paper: 408K,
    93.7 G); the released model has it: 426,569 and 97.96 G."""
    cells = ARCHS["C"]["cells"]
    paper = FALSR(cells, tuple(s for s in ARCHS["C"]["tail"] if s != "c1"))
    released = FALSR(**ARCHS["C"])
    assert count_params(paper) == 408_137 and count_params(released) == 426_569
    assert abs(count_ops(paper, 360, 640)["macs"] / 1e9 - 93.71) < 0.005
    assert abs(count_ops(released, 360, 640)["macs"] / 1e9 - 97.96) < 0.005


def test_depth_to_space_is_tensorflow_dcr():
    # TF: out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C' + c], here in NCHW.
    n, c, h, w, b = 2, 12, 3, 5, 2
    x = torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w)
    y = depth_to_space(x, b)
    cp = c // (b * b)
    assert y.shape == (n, cp, h * b, w * b)
    for i in range(b):
        for j in range(b):
            for ch in range(cp):
                assert torch.equal(y[:, ch, i::b, j::b], x[:, (i * b + j) * cp + ch])
    assert not torch.equal(y, torch.nn.functional.pixel_shuffle(x, b))  # PixelShuffle is CRD


# --- FALSR against TensorFlow ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def testvectors(shared):
    with np.load(shared / "weights" / "falsr" / "FALSR_testvectors.npz", allow_pickle=False) as z:
        return {k: torch.from_numpy(z[k]).permute(0, 3, 1, 2) for k in z.files}  # NHWC -> NCHW


@pytest.mark.parametrize("v", VARIANTS)
def test_falsr_matches_tensorflow_outputs(testvectors, v):
    model = build_model(get_card(f"falsr-{v.lower()}"), 2)
    with torch.no_grad():
        out = model.forward_ypbpr(testvectors["input_y"], testvectors["input_pbpr"])
    ref = testvectors[f"output_{v}"]
    assert out.shape == ref.shape == (1, 3, 96, 96)
    assert (out - ref).abs().max().item() < 1e-5  # measured: 3.6e-7 .. 4.8e-7


def test_falsr_colour_pipeline_matches_tensorflow_inputs(testvectors, datasets_root):
    """The test vectors' inputs are a 48x48 crop (rows/cols 40..87) of the FALSR repo's Set5
    img_002 (bird) LR, with PbPr from the whole LR upscaled by PIL bicubic; srbench's MATLAB-bicubic
    LR of the HR and FALSR.inputs() reproduce them."""
    hr, _ = read_image(datasets_root / "Set5" / "HR" / "bird.png")
    lr = imresize(hr, Fraction(1, 2))
    x = torch.from_numpy(lr.transpose(2, 0, 1) / 255.0).float()[None]
    y, pbpr = FALSR(**ARCHS["A"]).inputs(x)
    assert y.dtype == pbpr.dtype == torch.float32
    assert (y[..., 40:88, 40:88] - testvectors["input_y"]).abs().max().item() < 1e-7
    assert (pbpr[..., 80:176, 80:176] - testvectors["input_pbpr"]).abs().max().item() < 1e-7


@pytest.mark.parametrize("v", VARIANTS)
def test_falsr_fixed_colour_conv_is_the_graphs(shared, v):
    consts = read_graph(_falsr_file(shared, v)).consts
    model = FALSR(**ARCHS[v])
    kernel = consts["test_sr_evaluator_i1_b0_g/Const"]  # HWIO (1, 1, 3, 3)
    assert torch.equal(model.colour_weight, torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
    assert torch.equal(model.colour_bias, torch.from_numpy(consts["test_sr_evaluator_i1_b0_g/Const_1"]))


# --- shapes, loading, errors ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["falsr-a", "falsr-b", "falsr-c"])
def test_falsr_output_shape_random_init(name):
    model = build_model(get_card(name), 2, pretrained=False)
    with torch.no_grad():
        y = model(torch.rand(2, 3, 12, 16))
    assert y.shape == (2, 3, 24, 32) and y.dtype == torch.float32
    assert y.min() >= 0 and y.max() <= 1  # the graph itself clips to [0, 255] / 255
    with pytest.raises(SrbenchError, match="RGB"):
        model(torch.rand(1, 1, 8, 8))
    with pytest.raises(SrbenchError, match="x2 only"):
        build_model(dataclasses.replace(get_card(name), scales=(2, 3)), 3, pretrained=False)


@pytest.mark.parametrize("name,scale", FSRCNN_CASES)
def test_fsrcnn_output_shape_random_init(name, scale):
    model = build_model(get_card(name), scale, pretrained=False)
    with torch.no_grad():
        y = model(torch.rand(2, 1, 12, 16))
    assert y.shape == (2, 1, 12 * scale, 16 * scale) and y.dtype == torch.float32


@pytest.mark.parametrize("name", ["fsrcnn", "fsrcnn-s"])
def test_fsrcnn_param_counts_and_geometry(name):
    d, s, m = (get_card(name).arch[k] for k in ("d", "s", "m"))
    # SPEC §3: deconv crop 4 at x2/x4, 3 at x3, here on the input padded by one pixel (deconv.m): s + 4 / s + 3
    for scale, pad in ((2, 4), (3, 3), (4, 4)):
        model = _builder_model(name, scale)
        assert count_weights(model) == FSRCNN_WEIGHTS[name]
        assert count_params(model) == FSRCNN_PARAMS[name]
        assert len(model.convs) == m + 3 and model.convs[0].out_channels == d and model.convs[1].out_channels == s
        assert all(c.padding_mode == "replicate" for c in model.convs)
        dc = model.deconv
        assert (dc.kernel_size, dc.stride, dc.padding, dc.output_padding) == ((9, 9), (scale,) * 2,
                                                                              (scale + pad,) * 2,
                                                                              (scale + 2 * pad - 9,) * 2)


def _deconv_m(feature: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Literal transcription of the official FSRCNN test code's deconv.m (one feature map, one kernel):
    replicate-pad by 1, scatter each input pixel's kernel at stride steps, crop the s x size window
    starting at (fsize + 1) / 2 + stride * border (1-based)."""
    border = 1
    hei0, wid0 = feature.shape
    im = np.pad(feature, border, mode="edge")
    hei, wid = im.shape
    fsize = kernel.shape[0]
    out = np.zeros((hei * stride + fsize - 1, wid * stride + fsize - 1))
    for i in range(hei):
        for j in range(wid):
            out[i * stride:i * stride + fsize, j * stride:j * stride + fsize] += im[i, j] * kernel
    start = (fsize + 1) // 2 + stride * border - 1
    return out[start:start + hei0 * stride, start:start + wid0 * stride]


@pytest.mark.parametrize("scale", [2, 4])
def test_fsrcnn_deconvolution_is_the_official_deconv_m(scale):
    import torch.nn.functional as F

    model = _builder_model("fsrcnn-s", scale)
    rng = np.random.default_rng(scale)
    feats = rng.standard_normal((1, model.deconv.in_channels, 6, 7)).astype(np.float32)
    with torch.no_grad():
        ours = model.deconv(F.pad(torch.from_numpy(feats), (1, 1, 1, 1), mode="replicate"))[0, 0].double().numpy()
    w = model.deconv.weight.detach().double().numpy()  # (d, 1, 9, 9): feature j -> output
    ref = sum(_deconv_m(feats[0, j].astype(np.float64), w[j, 0], scale) for j in range(w.shape[0]))
    ref += float(model.deconv.bias)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)


def test_fsrcnn_mult_adds_match_published():
    # SPEC §4: 6.0 / 5.0 / 4.6 G for a 1280x720 HR output, deconv counted per HR output pixel.
    for scale, want in ((2, 6.0), (3, 5.0), (4, 4.6)):
        model = _builder_model("fsrcnn", scale)
        macs = count_ops(model, Fraction(720, scale), Fraction(1280, scale), channels=1)["macs"]
        assert round(macs / 1e9, 1) == want


@pytest.mark.parametrize("name,scale", [("falsr-a", 2), ("falsr-b", 2), ("falsr-c", 2)] + FSRCNN_CASES)
def test_official_weights_load_strictly(shared, name, scale):
    model = build_model(get_card(name), scale)  # raises on any missing/unexpected key or shape
    want = FALSR_PARAMS[name[-1].upper()] if name.startswith("falsr") else FSRCNN_PARAMS[name]
    assert sum(p.numel() for p in model.parameters()) == want


def test_fsrcnn_weights_layout(shared):
    """SPEC §3: w[o, i] = W[i, :, o].reshape(k, k, order='F'); deconv w[j, 0] = W[0, :, j].reshape(9, 9, 'F')."""
    mat = scipy.io.loadmat(shared / "weights" / "fsrcnn" / "official_mat" / "FSRCNN_x3.mat")
    model = build_model(get_card("fsrcnn"), 3)
    w0 = mat["weights_conv"][0, 0]  # (1, 25, 56)
    assert np.array_equal(model.convs[0].weight[7, 0].numpy(), w0[0, :, 7].reshape(5, 5, order="F").astype(np.float32))
    w2 = mat["weights_conv"][2, 0]  # (12, 9, 12)
    assert np.array_equal(model.convs[2].weight[4, 9].numpy(), w2[9, :, 4].reshape(3, 3, order="F").astype(np.float32))
    wd = mat["weights_conv"][7, 0]  # (1, 81, 56)
    assert np.array_equal(model.deconv.weight[30, 0].numpy(), wd[0, :, 30].reshape(9, 9, order="F").astype(np.float32))
    assert model.prelus[3].weight.item() == pytest.approx(float(mat["prelu_conv"][3, 0].ravel()[0]))


def test_cards(shared):
    with open(shared / "weights" / "MANIFEST.tsv", newline="") as fh:
        manifest = {row["sha256"]: row for row in csv.DictReader(fh, delimiter="\t")}
    for name, scale in [("falsr-a", 2), ("falsr-b", 2), ("falsr-c", 2)] + FSRCNN_CASES:
        card = get_card(name)
        asset = card.weights_for(scale)
        row = manifest[asset.sha256]
        assert int(row["bytes"]) == asset.size and row["file"].endswith("/" + asset.filename)
        repo, rest = row["source"].split("@")
        commit, path = rest.split(":")
        assert (card.repo, card.commit) == (repo, commit)
        assert asset.url == f"https://github.com/{repo}/raw/{commit}/{path}"
        assert asset.license == row["license"]
        assert card.paper and card.notes and card.license and card.input_range and card.colour_pipeline
        family = name.split("-")[0]
        assert card.paper_protocol == family and card.colour == ("rgb" if family == "falsr" else "y")
        protocol, psnr, _, paper = SET5[(name, scale)]
        assert card.published_for("set5", scale, kind="measured", protocol=protocol)["psnr"] == psnr
        if paper is not None:
            assert card.published_for("set5", scale, kind="paper", protocol=protocol)["psnr"] == paper


def _truncated_mirror(tmp_path, src, keep: float = 0.5) -> Asset:
    data = src.read_bytes()[: int(src.stat().st_size * keep)]
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (mirror / src.name).write_bytes(data)
    return Asset(name=f"truncated {src.name}", filename=src.name, url="https://example.invalid/" + src.name,
                 sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@pytest.mark.parametrize("name,scale,file,match", [
    ("falsr-b", 2, "falsr/FALSR-B.pb", "not a readable TensorFlow GraphDef"),
    ("fsrcnn", 2, "fsrcnn/official_mat/FSRCNN_x2.mat", "not a readable MATLAB .mat file"),
])
def test_corrupt_weights_are_a_clear_error(shared, tmp_path, monkeypatch, name, scale, file, match):
    asset = _truncated_mirror(tmp_path, shared / "weights" / file)
    monkeypatch.setenv("SRBENCH_MIRROR", str(tmp_path / "mirror"))
    card = dataclasses.replace(get_card(name), weights={f"x{scale}": asset})
    with pytest.raises(SrbenchError, match=match):
        build_model(card, scale)


@pytest.mark.parametrize("name,scale,wrong,match", [
    ("falsr-a", 2, ("falsr-b", 2), (r"FALSR-B\.pb is a different FALSR network \(cell0: file has "
                                    r"invertBotConE2_f16_k3_b1_isskip <- F0, model needs conv_f64_k3_b4_isskip <- F0")),
    ("falsr-c", 2, ("falsr-a", 2), r"FALSR-A\.pb is a different FALSR network"),
    ("falsr-a", 2, ("fsrcnn", 2), "not a readable TensorFlow GraphDef"),
    ("fsrcnn", 2, ("fsrcnn-s", 2), r"the file has 5 layers, FSRCNN\(56,12,4\) has 8"),
    ("fsrcnn-s", 4, ("fsrcnn", 4), r"the file has 8 layers, FSRCNN\(32,5,1\) has 5"),
    ("fsrcnn", 3, ("falsr-c", 2), "not a readable MATLAB .mat file"),
])
def test_wrong_checkpoint_is_a_clear_error(shared, name, scale, wrong, match):
    card = dataclasses.replace(get_card(name), weights={f"x{scale}": get_card(wrong[0]).weights_for(wrong[1])})
    with pytest.raises(SrbenchError, match=match):
        build_model(card, scale)


def _edited_mat(shared, tmp_path, monkeypatch, edit) -> Asset:
    """An official .mat with ``edit`` applied to its cells, served from a fresh mirror directory."""
    mat = scipy.io.loadmat(shared / "weights" / "fsrcnn" / "official_mat" / "FSRCNN_x2.mat")
    mat = {k: v for k, v in mat.items() if not k.startswith("__")}
    edit(mat)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    scipy.io.savemat(mirror / "FSRCNN_x2.mat", mat)
    data = (mirror / "FSRCNN_x2.mat").read_bytes()
    monkeypatch.setenv("SRBENCH_MIRROR", str(mirror))
    return Asset(name="edited FSRCNN_x2.mat", filename="FSRCNN_x2.mat", url="https://example.invalid/x.mat",
                 sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def test_falsr_rejects_another_tensorflow_graph(shared):
    """OpenCV's dnn_superres FSRCNN .pb is a TF GraphDef but not a FALSR graph."""
    with open(shared / "weights" / "MANIFEST.tsv", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        row = next(r for r in rows if r["file"] == "fsrcnn/opencv_dnn_superres/FSRCNN_x2.pb")
    asset = Asset(name="OpenCV FSRCNN_x2.pb", filename="FSRCNN_x2.pb", url="https://example.invalid/FSRCNN_x2.pb",
                  sha256=row["sha256"], size=int(row["bytes"]))
    card = dataclasses.replace(get_card("falsr-a"), weights={"x2": asset})
    with pytest.raises(SrbenchError, match=r"FSRCNN_x2\.pb is not a FALSR graph \(no single '<scope>/target' output"):
        build_model(card, 2)


@pytest.mark.parametrize("first_layer,match", [
    ((1, 9, 56), r"convs\.0\.weight' has shape \(56, 1, 3, 3\).*expects \(56, 1, 5, 5\)"),  # 3x3 instead of 5x5
    ((1, 24, 56), r"layer 1 has weights \(1, 24, 56\), not \(Cin, k\*k, Cout\)"),  # not k*k taps
])
def test_fsrcnn_mat_of_the_wrong_shape_is_a_clear_error(shared, tmp_path, monkeypatch, first_layer, match):
    def edit(mat):
        mat["weights_conv"][0, 0] = np.zeros(first_layer)

    asset = _edited_mat(shared, tmp_path, monkeypatch, edit)
    with pytest.raises(SrbenchError, match=match):
        build_model(dataclasses.replace(get_card("fsrcnn"), weights={"x2": asset}), 2)


# --- Set5 reproduction ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,scale", sorted(SET5))
def test_set5_reproduces_spec(datasets_root, name, scale):
    from srbench.eval.driver import evaluate

    protocol, want_psnr, want_ssim, paper = SET5[(name, scale)]
    result = evaluate(name, "set5", scale, protocol="paper", data_root=datasets_root)
    assert result["protocol"]["name"] == protocol
    assert abs(result["metrics"]["psnr"] - want_psnr) <= 0.005
    if want_ssim is not None:
        assert abs(result["metrics"]["ssim"] - want_ssim) <= 0.0005
    if paper is not None:
        assert abs(result["metrics"]["psnr"] - paper) <= 0.02  # SPEC §2: within 0.02 dB of the paper
