"""Parameter and Mult-Add counting (SPEC §4). Expected values are hand formulas or SPEC/published
numbers, never the counter's own output."""

from __future__ import annotations

import inspect
import json
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.cost.complexity import (
    count_at,
    count_ops,
    count_params,
    count_weights,
    profile,
)

H, W = 10, 12  # odd-shaped input for the hand-checked single layers


def macs_flops(module, h=H, w=W, c=None):
    c = c or next(m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))).in_channels
    macs, flops, _ = count_at(module, h, w, c)
    return macs, flops


# --- the convention on single layers ----------------------------------------------------------

def test_conv_counts_weight_macs_per_output_pixel_bias_free():
    conv = nn.Conv2d(3, 64, 3, padding=1, bias=True)
    assert macs_flops(conv) == (H * W * 3 * 3 * 3 * 64, 2 * H * W * 3 * 3 * 3 * 64)


def test_strided_conv_counts_output_pixels():
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    assert macs_flops(conv, 16, 16) == (8 * 8 * 27 * 8, 2 * 8 * 8 * 27 * 8)


def test_depthwise_and_grouped_conv():
    dw = nn.Conv2d(16, 16, 5, padding=2, groups=16, bias=False)
    assert macs_flops(dw)[0] == H * W * 5 * 5 * 1 * 16  # k*k*Cin/groups*Cout
    grouped = nn.Conv2d(16, 32, 3, padding=1, groups=4)
    assert macs_flops(grouped)[0] == H * W * 3 * 3 * (16 // 4) * 32


def test_transposed_conv_per_hr_output_pixel_and_stock_per_input_pixel():
    # FSRCNN's x4 deconv: 8x8 in -> 32x32 out.
    deconv = nn.ConvTranspose2d(56, 1, 9, stride=4, padding=4, output_padding=3)
    macs, flops = macs_flops(deconv, 8, 8)
    assert macs == 32 * 32 * 9 * 9 * 56 * 1  # srbench convention: per HR output pixel
    assert flops == 2 * 8 * 8 * 9 * 9 * 56 * 1  # torch's stock counter: per input pixel
    assert macs == 16 * flops // 2  # the two differ by stride^2


def test_grouped_transposed_conv():
    deconv = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert macs_flops(deconv, 5, 5)[0] == 10 * 10 * 3 * 3 * 8 * (4 // 2)


class _Free(nn.Module):
    """A conv followed only by ops that count 0: pixel shuffle, interpolation, activations, adds, concat."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.act = nn.PReLU()

    def forward(self, x):
        y = self.act(self.conv(x))
        y = torch.cat([y, torch.sigmoid(y)], 1) + 1.0
        y = nn.functional.pixel_shuffle(y, 2)  # 24 ch -> 6 ch at 2x
        z = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        return y[:, :3] + z + F.leaky_relu(z, 0.05)


def test_pixel_shuffle_interpolation_activations_count_zero():
    assert macs_flops(_Free())[0] == H * W * 3 * 3 * 3 * 12
    assert macs_flops(nn.PixelShuffle(2), c=12) == (0, 0)


class _WithFixed(nn.Module):
    """EDSR-style MeanShift as a buffer (srbench's ports) and as a frozen parameter."""

    def __init__(self):
        super().__init__()
        self.register_buffer("shift_w", torch.eye(3).view(3, 3, 1, 1))
        self.frozen = nn.Conv2d(3, 3, 1)
        self.frozen.requires_grad_(False)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(self.frozen(F.conv2d(x, self.shift_w)))


def test_fixed_convs_excluded_from_params_and_macs_but_in_true_flops():
    m = _WithFixed()
    assert count_params(m) == 3 * 8 * 9 + 8
    macs, flops = macs_flops(m)
    assert macs == H * W * 3 * 8 * 9
    assert flops == 2 * H * W * (3 * 8 * 9 + 9 + 9)  # the stock counter sees both fixed 1x1 convs


def test_all_frozen_module_counts_all_parameters():
    # build_model() freezes every parameter for inference; they are still the network's parameters.
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.PReLU(), nn.Conv2d(4, 1, 1))
    m.requires_grad_(False)
    assert count_params(m) == (9 * 4 + 4) + 1 + (4 + 1)
    assert count_weights(m) == 9 * 4 + 4
    assert macs_flops(m)[0] == H * W * (9 * 4 + 4)


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(self.conv(x)))


def test_shared_weights_counted_once_applied_three_times():
    m = _Shared()  # CARN-M applies one block three times
    assert count_params(m) == 4 * 4 * 9 + 4
    assert macs_flops(m)[0] == 3 * H * W * 4 * 4 * 9


class _Pooled(nn.Module):
    """A conv on a pooled vector (IMDN's channel attention): a cost per image, not per pixel."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.du = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        y = self.conv(x)
        return y * torch.sigmoid(self.du(y.mean(dim=(2, 3), keepdim=True))).sum(1, keepdim=True)


def test_count_ops_fractional_size_and_per_image_terms():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    ops = count_ops(conv, Fraction(720, 3), Fraction(1280, 3))  # x3 at 720p: 102,400 LR pixels
    assert ops["macs"] == 102_400 * 27 * 8
    assert ops["per_pixel"]
    ops = count_ops(_Pooled(), 720, 1280)
    assert ops["macs"] == 720 * 1280 * 27 * 8 + 8 * 2  # the 1x1 on the pooled vector, once
    assert not ops["per_pixel"]


def test_torch_conv_flop_formula_and_schema_we_rely_on():
    from torch.utils.flop_counter import conv_flop, conv_flop_count

    names = list(inspect.signature(conv_flop).parameters)[:7]
    assert names == ["x_shape", "w_shape", "_bias", "_stride", "_padding", "_dilation", "transposed"]
    args = [a.name for a in torch.ops.aten.convolution.default._schema.arguments]
    assert args[:7] == ["input", "weight", "bias", "stride", "padding", "dilation", "transposed"]
    # stock: 2 * prod(w) * output pixels; transposed: 2 * prod(w) * *input* pixels
    assert conv_flop_count([1, 3, 10, 10], [8, 3, 3, 3], [1, 8, 10, 10]) == 2 * 100 * 8 * 27
    assert conv_flop_count([1, 56, 8, 8], [56, 1, 9, 9], [1, 1, 32, 32], transposed=True) == 2 * 64 * 56 * 81


class _FSRCNN(nn.Module):
    """FSRCNN (d, s, m) = (56, 12, 4) as the paper describes it (zero padding is enough for counting)."""

    def __init__(self, scale):
        super().__init__()
        pad = 3 if scale == 3 else 4
        layers = [nn.Conv2d(1, 56, 5, padding=2), nn.PReLU(), nn.Conv2d(56, 12, 1), nn.PReLU()]
        for _ in range(4):
            layers += [nn.Conv2d(12, 12, 3, padding=1), nn.PReLU()]
        layers += [nn.Conv2d(12, 56, 1), nn.PReLU(),
                   nn.ConvTranspose2d(56, 1, 9, stride=scale, padding=pad, output_padding=scale + 2 * pad - 9)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("scale,published", [(2, 6.0), (3, 5.0), (4, 4.6)])
def test_fsrcnn_published_mult_adds_need_the_hr_output_convention(scale, published):
    m = _FSRCNN(scale)
    assert count_weights(m) == 12_464  # SPEC §3: 12,464 weights
    assert count_params(m) == 12_464 + 173 + 7  # + biases + PReLU slopes
    ops = count_ops(m, Fraction(720, scale), Fraction(1280, scale), channels=1)
    lr_pixels = 1280 * 720 // scale**2
    body = 5 * 5 * 56 + 56 * 12 + 4 * 9 * 12 * 12 + 12 * 56  # per LR pixel
    assert ops["macs"] == lr_pixels * body + 1280 * 720 * 9 * 9 * 56
    assert round(ops["macs"] / 1e9, 1) == published
    # torch's stock count charges the deconv per LR pixel: every weight once per LR pixel
    assert ops["flops_true"] == 2 * lr_pixels * 12_464


# --- the zoo against SPEC §3 (parameters) and §4 (Mult-Adds, hr720) --------------------------

# name -> {scale: (learnable params, Mult-Adds in G or None)}. SPEC §3/§4 figures, nothing measured here.
TPSR_X4 = {4: (61_097, 3.56)}
SPEC = {
    "bicubic": {2: (0, 0.0), 3: (0, 0.0), 4: (0, 0.0)},  # not a network: interpolation counts 0
    "imdn": {2: (694_404, 158.8), 3: (703_059, 71.5), 4: (715_176, 40.9)},
    "imdn-as": {4: (752_104, None)},
    "imdn-rtc": {2: (20_190, None)},
    "tpsr-nogan": TPSR_X4, "tpsr-esrgan": TPSR_X4, "tpsr-d2": TPSR_X4,
    "falsr-a": {2: (1_021_401, 235.0)},
    "falsr-b": {2: (324_745, 74.5)},
    "falsr-c": {2: (426_569, 97.96)},
    "fsrcnn": {2: (12_464 + 173 + 7, 6.0), 3: (12_464 + 173 + 7, 5.0), 4: (12_464 + 173 + 7, 4.6)},
    "carn-m": {2: (414_787, 91.2), 3: (414_787, 46.1), 4: (414_787, 32.5)},
}
SPEC_WEIGHTS = {"fsrcnn": 12_464, "fsrcnn-s": 3_937}  # SPEC counts FSRCNN's kernels only


def _zoo_cases():
    from srbench.models.registry import get_card, list_models

    return [pytest.param(name, s, id=f"{name}-x{s}") for name in list_models() for s in get_card(name).scales]


def _spec_key(card):
    for key in (card.name, *card.aliases):
        key = key.lower().replace("_", "-")
        if key in SPEC or key in SPEC_WEIGHTS:
            return key
    return None


@pytest.mark.parametrize("name,scale", _zoo_cases())
def test_zoo_params_and_mult_adds_match_spec(name, scale):
    from srbench.models.registry import get_card

    card = get_card(name)
    key = _spec_key(card)
    if key is None:
        pytest.skip(f"no published hr720 params/Mult-Adds for '{name}' (its card's source reports other counts)")
    doc = profile(card, scale, "hr720")
    json.dumps(doc)  # goes into every result file
    if key in SPEC_WEIGHTS:
        assert doc["params_weights_only"] == SPEC_WEIGHTS[key]
    if key not in SPEC:
        return
    params, macs_g = SPEC[key][scale]
    assert doc["params"] == params
    if macs_g is not None:
        assert abs(doc["macs_g"] - macs_g) < 0.1, f"{name} x{scale}: {doc['macs_g']:.3f} G vs SPEC {macs_g} G"
    assert doc["input_pixels"] == (1280 * 720 if card.same_size else 1280 * 720 // scale**2)
    assert doc["output"] == "1280x720"
    if doc["params"]:  # torch's own count charges at least the MACs (deconvs less, fixed convs more)
        assert doc["flops_true"] > 0


def test_tpsr_x2_architecture():
    # No x2 weights were released; SPEC gives the x2 architecture's counts (one upsampling stage).
    from srbench.models.registry import get_card
    from srbench.models.tpsr import build

    model = build(get_card("tpsr-nogan"), 2, pretrained=False)
    assert count_params(model) == 60_761
    ops = count_ops(model, 360, 640)
    assert abs(ops["macs"] / 1e9 - 13.95) < 0.1


# --- the command ------------------------------------------------------------------------------

def test_cli_profile_table_and_json(capsys):
    from srbench.cli import main

    assert main(["profile", "--model", "imdn-rtc", "--scale", "2"]) == 0
    out = capsys.readouterr().out
    assert "20,190" in out and "hr720" in out and "640x360" in out and "true FLOPs" in out
    assert main(["profile", "--model", "imdn-rtc", "--convention", "lr480", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["convention"] == "lr480" and doc[0]["input"] == "480x480" and doc[0]["params"] == 20_190


def test_cli_profile_bad_input_exits_2(capsys):
    from srbench.cli import main

    assert main(["profile", "--model", "imdn-rtc", "--scale", "3"]) == 2
    assert "x3" in capsys.readouterr().err
    assert main(["profile", "--model", "imdn-rtcc"]) == 2
    assert "Did you mean" in capsys.readouterr().err
