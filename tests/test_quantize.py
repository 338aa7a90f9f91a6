"""int8 post-training quantisation (srbench.deploy.quantize): the rewrites it relies on are exact, what stays
in float is said, broken int8 kernels are caught, runs are deterministic, and the official IMDN and
FSRCNN-s weights quantise to outputs close to fp32 on real LR crops (calibrated on the demo set,
tested on Set5)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.datasets import open_dataset
from srbench.deploy.int8_recipes import RECIPES, Int8Recipe, cpu_has_vnni, get_recipe
from srbench.deploy.quantize import KeptFloat, ReplicatePad2d, quantize_int8
from srbench.errors import SrbenchError
from srbench.imaging.color import rgb_to_y
from srbench.imaging.imresize import imresize
from srbench.imaging.io import modcrop, read_image, to_rgb
from srbench.models.builder import build_model
from srbench.models.imdn import IMDN
from srbench.models.registry import get_card


def _psnr01(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return float("inf") if mse == 0 else -10 * np.log10(mse)


def _lr_crop(path, scale: int, colour: str, size: int) -> torch.Tensor:
    """Centre crop of the MATLAB-bicubic LR of an HR image, in the model's input convention."""
    hr = modcrop(to_rgb(read_image(path)[0]), scale)
    top, left = (hr.shape[0] - size * scale) // 2, (hr.shape[1] - size * scale) // 2
    lr = imresize(hr[top:top + size * scale, left:left + size * scale], Fraction(1, scale))
    arr = (rgb_to_y(lr) / 255.0)[None] if colour == "y" else lr.astype(np.float64).transpose(2, 0, 1) / 255.0
    return torch.from_numpy(arr[None].astype(np.float32))


def _demo_calibration(scale: int, colour: str, size: int = 48, count: int = 3) -> list[torch.Tensor]:
    return [_lr_crop(s.hr_path, scale, colour, size) for s in open_dataset("demo").samples[:count]]


def _prelu_kernel_sound() -> bool:
    """Independent probe of torch's int8 PReLU as torch.ao's FX route builds it (slope 0.25)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    x = torch.linspace(-1, 1, 65).view(1, 1, 5, 13)
    prepared = prepare_fx(nn.Sequential(nn.PReLU(init=0.25)).eval(), get_default_qconfig_mapping("x86"), (x,))
    prepared(x)
    with torch.no_grad():
        got = convert_fx(prepared)(x)
    return bool(torch.allclose(got, torch.where(x >= 0, x, 0.25 * x), atol=2 * 2 / 127))


# --- the rewrites -------------------------------------------------------------------------------


def test_replicate_pad_equals_torch_replicate_padding():
    x = torch.rand(2, 3, 7, 5)
    for pad_h, pad_w in [(1, 1), (2, 2), (0, 3), (4, 0)]:
        ours = ReplicatePad2d(pad_h, pad_w)(x)
        assert torch.equal(ours, F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="replicate"))
    q = torch.quantize_per_tensor(x, 1 / 100, 10, torch.quint8)  # and on int8 values, scale kept
    out = ReplicatePad2d(2, 1)(q)
    assert out.is_quantized and out.q_scale() == q.q_scale()
    assert torch.equal(out.dequantize(), F.pad(q.dequantize(), (1, 1, 2, 2), mode="replicate"))


def test_scalar_arithmetic_stays_float_and_output_is_close():
    class Scaled(nn.Module):  # TPSR-like: the network works in [0, 255]
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(x * 255) / 255

    torch.manual_seed(0)
    model = Scaled().eval()
    calib = [torch.rand(1, 3, 24, 24) for _ in range(3)]
    qmodel, recipe = quantize_int8(model, calib)
    ops = {o["op"] for o in recipe["float_ops"]}
    assert {"mul by a constant", "truediv by a constant"} <= ops
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert _psnr01(qmodel(x), model(x)) > 35


def test_broken_prelu_kernel_is_caught_and_kept_float():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.PReLU(init=0.25), nn.Conv2d(8, 1, 3, padding=1)).eval()
    calib = [torch.rand(1, 1, 24, 24) for _ in range(2)]
    qmodel, recipe = quantize_int8(model, calib)
    kept = {d["name"]: d["why"] for d in recipe["float_layers"]}
    assert ("1" in kept) == (not _prelu_kernel_sound())
    if "1" in kept:
        assert "PReLU kernel" in kept["1"] and isinstance(qmodel.net.get_submodule("model.1"), KeptFloat)
    x = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        assert _psnr01(qmodel(x), model(x)) > 35


def test_keep_float_and_recipe_fields():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 12, 3, padding=1),
                          nn.PixelShuffle(2)).eval()
    calib = [torch.rand(1, 3, 20, 20), torch.rand(1, 3, 16, 24)]
    per_tensor = Int8Recipe("test-per-tensor", "x86", "histogram", True, False)
    qmodel, recipe = quantize_int8(model, calib, keep_float=("2",), recipe=per_tensor)
    assert recipe["float_layers"] == [{"name": "2", "why": "kept in float by the caller"}]
    assert isinstance(qmodel.net.get_submodule("model.2"), KeptFloat)
    assert recipe["backend"] == "x86" and recipe["torch"] == torch.__version__
    assert recipe["recipe"]["name"] == "test-per-tensor"
    assert recipe["per_channel"] is False and "per_tensor" in recipe["weight_observer"]
    assert recipe["calibration_inputs"] == 2 and recipe["calibration_shapes"] == [[1, 3, 16, 24], [1, 3, 20, 20]]
    assert recipe["int8_layer_types"] == {"ConvReLU2d": 1}  # conv 0 fused with its ReLU; conv 2 float
    assert "reduce_range" in recipe["activation_observer"]
    assert qmodel(torch.rand(1, 3, 10, 14)).shape == (1, 3, 20, 28)


def test_padding_without_int8_form_stays_float():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), nn.ReLU(),
                          nn.Conv2d(4, 3, 3, padding=1, padding_mode="replicate")).eval()
    qmodel, recipe = quantize_int8(model, [torch.rand(1, 3, 16, 16)])
    assert recipe["float_layers"] == [{"name": "0", "why": "padding mode with no int8 convolution"}]
    assert recipe["int8_layer_types"] == {"Conv2d": 1}  # the replicate-padded one
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert _psnr01(qmodel(x), model(x)) > 35


def test_deterministic_and_input_untouched():
    torch.manual_seed(0)
    model = IMDN(nf=16, num_modules=2, upscale=2).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calib = [torch.rand(1, 3, 24, 24) for _ in range(2)]
    x = torch.rand(1, 3, 20, 16)
    outs = []
    for _ in range(2):
        qmodel, recipe = quantize_int8(model, calib)
        outs.append(qmodel(x))
    assert torch.equal(outs[0], outs[1])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # IMDN's contrast pooling has no int8 kernel: said, with where it runs
    pooled = {o["op"]: o["where"] for o in recipe["float_ops"]}
    assert pooled["pow"] == ["IMDB1.cca", "IMDB2.cca"] and pooled["sub"] == ["IMDB1.cca", "IMDB2.cca"]


def test_user_errors_are_one_line():
    bicubic = build_model(get_card("bicubic"), 2)
    with pytest.raises(SrbenchError, match="no learnable layer"):
        quantize_int8(bicubic, [torch.rand(1, 3, 8, 8)])
    model = nn.Sequential(nn.Conv2d(3, 3, 1)).eval()
    with pytest.raises(SrbenchError, match="calibration inputs"):
        quantize_int8(model, [])
    with pytest.raises(SrbenchError, match="unknown int8 recipe"):
        quantize_int8(model, [torch.rand(1, 3, 8, 8)], recipe="tensorrt")
    with pytest.raises(SrbenchError, match="unknown quantisation backend"):
        quantize_int8(model, [torch.rand(1, 3, 8, 8)], recipe=Int8Recipe("t", "tensorrt", "minmax", False, True))
    with pytest.raises(SrbenchError, match="not layers of"):
        quantize_int8(model, [torch.rand(1, 3, 8, 8)], keep_float=("nope",))


# --- official weights ---------------------------------------------------------------------------

# int8 vs fp32 PSNR (peak 1) observed on the two Set5 LR crops below (demo calibration, 3 x 48x48):
# x86: IMDN x2 41.5-41.9, x4 35.7; FSRCNN-s x2 33.9-34.6, x4 33.5-34.2 dB (PReLUs 2 and 3 in float).
# qnnpack (8-bit activations): IMDN x2 44.4-45.9, FSRCNN-s x2 36.6-39.3 dB. 30 dB is the bar.
AGREEMENT_DB = 30.0


@pytest.mark.parametrize("name,scale,recipe_name", [("fsrcnn-s", 2, "x86-hist-7bit"), ("fsrcnn-s", 4, "x86-hist-7bit"),
                                                    ("fsrcnn-s", 2, "qnnpack-hist"),
                                                    pytest.param("imdn", 2, "x86-hist-7bit", marks=pytest.mark.slow),
                                                    pytest.param("imdn", 4, "x86-hist-7bit", marks=pytest.mark.slow)])
def test_official_weights_int8_close_to_fp32_on_set5_crops(shared, name, scale, recipe_name):
    card = get_card(name)
    model = build_model(card, scale)
    qmodel, recipe = quantize_int8(model, _demo_calibration(scale, card.colour), recipe=recipe_name)
    assert recipe["backend"] == RECIPES[recipe_name].backend and "per_channel" in recipe["weight_observer"]
    assert recipe["agreement_with_fp32_on_calibration"]["psnr_db_min"] > AGREEMENT_DB
    set5 = open_dataset("set5", shared / "datasets")
    for sample in set5.samples[:2]:
        x = _lr_crop(sample.hr_path, scale, card.colour, 64)
        with torch.no_grad():
            ref, out = model(x), qmodel(x)
        assert out.shape == ref.shape == (1, x.shape[1], 64 * scale, 64 * scale)
        assert _psnr01(out, ref) > AGREEMENT_DB, sample.name
    if name == "fsrcnn-s":  # replicate padding quantised, not left float
        assert recipe["int8_layer_types"]["Conv2d"] == 4 and recipe["int8_layer_types"]["ConvTranspose2d"] == 1


def test_official_fsrcnn_s_deterministic(shared):
    model = build_model(get_card("fsrcnn-s"), 3)
    calib = _demo_calibration(3, "y", size=32, count=2)
    x = _lr_crop(open_dataset("set5", shared / "datasets").samples[0].hr_path, 3, "y", 40)
    outs = [quantize_int8(model, calib)[0](x) for _ in range(2)]
    assert torch.equal(outs[0], outs[1])


# --- recipes ------------------------------------------------------------------------------------

def _small_sr() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.LeakyReLU(0.05), nn.Conv2d(16, 16, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(16, 12, 3, padding=1), nn.PixelShuffle(2)).eval()


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r.backend != "onnxruntime"])
def test_each_recipe_is_deterministic_and_recorded(name):
    if RECIPES[name].backend == "x86" and not RECIPES[name].reduce_range and not cpu_has_vnni():
        with pytest.raises(SrbenchError, match="VNNI"):
            get_recipe(name)
        return
    model = _small_sr()
    gen = torch.Generator().manual_seed(2)
    calib = [torch.rand(8, 3, 16, 16, generator=gen) for _ in range(4)]
    x = torch.rand(1, 3, 20, 12, generator=gen)
    outs, recipes = [], []
    for _ in range(2):
        qmodel, recipe = quantize_int8(model, calib, recipe=name)
        outs.append(qmodel(x))
        recipes.append(recipe)
    assert torch.equal(outs[0], outs[1])  # two quantisations, one output
    assert recipes[0] == recipes[1] and recipes[0]["recipe"] == RECIPES[name].to_dict()
    assert recipes[0]["int8_layer_types"] == {"Conv2d": 2, "ConvReLU2d": 1, "LeakyReLU": 1}
    assert recipes[0]["audit"]["int8_layers_checked"] == 4 and recipes[0]["audit"]["max_steps_off"] <= 2
    assert ("reduce_range" in recipes[0]["activation_observer"]) == RECIPES[name].reduce_range
    assert recipes[0]["bias_corrected_convs"] == (3 if RECIPES[name].bias_correction else 0)
    with torch.no_grad():
        assert _psnr01(outs[0], model(x)) > 30


def test_percentile_observer_clips_outliers_and_minmax_does_not():
    from torch.ao.quantization.observer import MinMaxObserver

    from srbench.deploy.quantize import PercentileObserver

    x = torch.cat([torch.linspace(0, 1, 100_000), torch.tensor([50.0])])
    pct, mm = PercentileObserver(percentile=99.9), MinMaxObserver()
    pct(x), mm(x)
    assert float(mm.max_val) == 50.0
    assert float(pct.max_val) == pytest.approx(float(np.percentile(x.numpy(), 99.9)), rel=1e-4)


def test_agreement_guard_refuses_a_quantisation_below_the_bar(monkeypatch):
    import srbench.deploy.quantize as q

    model = _small_sr()
    gen = torch.Generator().manual_seed(3)
    calib = [torch.rand(4, 3, 16, 16, generator=gen) for _ in range(2)]
    qmodel, recipe = quantize_int8(model, calib, recipe="x86-hist-7bit")
    with torch.no_grad():  # the recorded agreement, computed independently here
        worst = min(_psnr01(qmodel(x), model(x)) for x in calib)
    assert recipe["agreement_with_fp32_on_calibration"]["psnr_db_min"] == pytest.approx(worst, abs=0.01)
    monkeypatch.setattr(q, "MIN_AGREEMENT_DB", worst + 1)
    with pytest.raises(SrbenchError, match="a failed quantisation, not a score"):
        quantize_int8(model, calib, recipe="x86-hist-7bit")


@pytest.mark.slow
def test_falsr_quantises_the_y_network_only(shared):
    card = get_card("falsr-b")
    model = build_model(card, 2)
    qmodel, recipe = quantize_int8(model, _demo_calibration(2, "rgb"))
    assert "PIL bicubic" in recipe["float_work"]
    x = _lr_crop(open_dataset("set5", shared / "datasets").samples[0].hr_path, 2, "rgb", 48)
    with torch.no_grad():
        assert _psnr01(qmodel(x), model(x)) > 28


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r.backend == "onnxruntime"])
def test_onnxruntime_recipe_is_deterministic_and_agrees_with_torch_ao(shared, name):
    pytest.importorskip("onnxruntime")
    from srbench.deploy.onnx_model import OnnxSR
    from srbench.deploy.onnx_quantize import quantize_onnx_int8

    card = get_card("fsrcnn-s")
    model = build_model(card, 2)
    calib = [torch.cat(_demo_calibration(2, "y", size=32, count=5))]
    first, recipe = quantize_onnx_int8(card, 2, calib, RECIPES[name])
    again, _ = quantize_onnx_int8(card, 2, calib, RECIPES[name])
    assert first == again  # two quantisations, one graph
    assert recipe["recipe"] == RECIPES[name].to_dict() and recipe["qdq_pairs"] > 0
    x = _lr_crop(open_dataset("set5", shared / "datasets").samples[0].hr_path, 2, "y", 40)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.onnx").write_bytes(first)
        ort_out = OnnxSR(Path(tmp) / "m.onnx")(x)
    torch_out = quantize_int8(model, calib, recipe="x86-hist-7bit")[0](x)
    with torch.no_grad():
        ref = model(x)
    # both routes compute the same function up to int8 rounding: each close to fp32 and to each other
    assert _psnr01(ort_out, ref) > AGREEMENT_DB and _psnr01(torch_out, ref) > AGREEMENT_DB
    assert _psnr01(ort_out, torch_out) > AGREEMENT_DB
