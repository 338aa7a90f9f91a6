"""The evaluation engine: any model source, the three phases, score, compute and the protocol's one reader."""

from __future__ import annotations

import json
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
import torch

import srbench
from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.eval.aggregate import aggregate
from srbench.eval.compute import compute
from srbench.eval.plan import make_plan
from srbench.eval.unit import evaluate_shard
from srbench.imaging.imresize import imresize, round_uint8
from srbench.imaging.io import modcrop, read_image
from srbench.protocol import pipeline
from srbench.protocol.protocols import Protocol, get_protocol
from srbench.store.results import loads


def _images(doc, *metrics):
    return {i["name"]: tuple(i[m] for m in metrics) for i in doc["images"]}


def _cli_doc(capsys, *args):
    assert main(["run", *args, "--format", "json", "--workers", "1"]) == 0
    return json.loads(capsys.readouterr().out)["results"][0]


# ---------------------------------------------------------------------------------------------
# models from Python


def test_in_memory_module_equals_the_cli_to_the_last_bit(datasets_root, tmp_path, capsys):
    module = srbench.create_model("imdn", 2)  # the public builder, official weights from the mirror
    api = srbench.evaluate(module, "set5", 2, data_root=datasets_root, label="my-imdn")
    cli = _cli_doc(capsys, "--model", "imdn", "--set", "set5", "--scale", "2", "--data-root", str(datasets_root),
                   "--out", str(tmp_path))
    assert _images(api, "psnr", "ssim") == _images(cli, "psnr", "ssim")  # per-image, bit for bit
    assert api["model"] == "my-imdn" and api["identity"]["model"]["kind"] == "module"
    assert api["complexity"]["params"] == 694404
    assert not list(tmp_path.glob("my-imdn*"))  # nothing is written without out_dir


def test_callable_returning_matlab_bicubic_gives_the_bicubic_numbers(datasets_root):
    def bicubic_x2(lr):
        assert lr.dtype == np.uint8 and lr.ndim == 3 and lr.shape[2] == 3
        return imresize(lr / 255.0, 2) * 255.0  # floats in [0, 255], as the zoo's bicubic computes them

    ours = srbench.evaluate(bicubic_x2, "set5", 2, data_root=datasets_root, metrics=("psnr", "ssim"))
    zoo = srbench.evaluate("bicubic", "set5", 2, data_root=datasets_root, metrics=("psnr", "ssim"))
    assert _images(ours, "psnr", "ssim") == _images(zoo, "psnr", "ssim")
    assert ours["identity"]["model"]["kind"] == "callable" and ours["complexity"] is None


class _WrongSize(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.interpolate(x, scale_factor=3)


def test_module_with_the_wrong_output_size_is_a_clear_error():
    with pytest.raises(SrbenchError, match=r"shape \(1, 3, \d+, \d+\).*expected"):
        srbench.evaluate(_WrongSize(), "demo", 2, limit=1)


def test_callable_with_wrong_output_is_a_clear_error():
    with pytest.raises(SrbenchError, match="returned an array of shape"):
        srbench.evaluate(lambda lr: lr, "demo", 2, limit=1)
    with pytest.raises(SrbenchError, match="return uint8 or float"):
        srbench.evaluate(lambda lr: np.repeat(np.repeat(lr, 2, 0), 2, 1).astype(np.int32), "demo", 2, limit=1)


def test_module_io_convention_value_range_255():
    class Nearest(torch.nn.Module):
        def __init__(self, gain):
            super().__init__()
            self.gain = gain

        def forward(self, x):
            return torch.nn.functional.interpolate(x * self.gain, scale_factor=2, mode="nearest")

    unit = srbench.evaluate(Nearest(1.0), "demo", 2, limit=2)  # [0, 1] in and out
    # the same network expecting [0, 255]: identical SR when the convention is declared
    wide = srbench.evaluate(Nearest(1.0), "demo", 2, limit=2, io={"value_range": 255})
    assert _images(unit, "psnr") == _images(wide, "psnr")
    with pytest.raises(SrbenchError, match="value_range must be 1 or 255"):
        srbench.evaluate(Nearest(1.0), "demo", 2, limit=1, io={"value_range": 2})


def test_nas_style_loop_of_random_imdn_variants_in_memory():
    torch.manual_seed(0)
    seen = {}
    for depth in (1, 2):
        net = srbench.create_model("imdn", 2, pretrained=False, num_modules=depth, nf=16)
        # untrained weights put values far outside [0, 1], an error (issue 23); a sigmoid keeps them in range
        net = torch.nn.Sequential(net, torch.nn.Sigmoid())
        doc = srbench.evaluate(net, "demo", 2, limit=1, label=f"imdn-d{depth}")
        seen[depth] = (doc["complexity"]["params"], doc["metrics"]["psnr"])
    assert seen[2][0] > seen[1][0]  # one more block, more parameters
    with pytest.raises(SrbenchError, match="pretrained=False"):
        srbench.create_model("imdn", 2, num_modules=3)


# ---------------------------------------------------------------------------------------------
# the CLI takes card files and builders


def test_cli_model_card_file_and_builder(tmp_path, capsys, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "my_sr.py").write_text(textwrap.dedent('''
        import torch

        class Nearest(torch.nn.Module):
            def __init__(self, scale):
                super().__init__()
                self.scale = scale
            def forward(self, x):
                return torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")

        def build(scale):
            return Nearest(scale)

        def build_card(card, scale, pretrained=True):
            return Nearest(scale)
    '''))
    monkeypatch.syspath_prepend(str(pkg))
    sys.modules.pop("my_sr", None)
    card = tmp_path / "mine.toml"
    card.write_text('[models.my-nearest]\nfamily = "mine"\nbuilder = "my_sr:build_card"\nscales = [2, 3]\n')
    by_builder = _cli_doc(capsys, "--model", "my_sr:build", "--set", "demo", "--scale", "2", "--limit", "2",
                          "--out", str(tmp_path / "a"))
    by_card = _cli_doc(capsys, "--model", str(card), "--set", "demo", "--scale", "2", "--limit", "2",
                       "--out", str(tmp_path / "b"))
    assert by_builder["model"] == "my_sr:build" and by_card["model"] == "my-nearest"
    assert _images(by_builder, "psnr") == _images(by_card, "psnr")
    assert main(["run", "--model", "no_such_module:build", "--set", "demo", "--scale", "2"]) == 2
    assert "cannot import module 'no_such_module'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# score


@pytest.mark.parametrize("model, scale, protocol, metrics", [
    ("tpsr-nogan", 4, "matlab", "psnr,ssim,lpips"),
    ("fsrcnn-s", 2, "fsrcnn", "psnr,ssim"),  # Y-only: the saved images are the SR Y
])
def test_score_reproduces_a_run_from_its_saved_images(model, scale, protocol, metrics, datasets_root, tmp_path, capsys):
    run = _cli_doc(capsys, "--model", model, "--set", "set5", "--scale", str(scale), "--protocol", protocol,
                   "--metrics", metrics, "--data-root", str(datasets_root), "--out", str(tmp_path / "run"),
                   "--save-images")
    (folder,) = (tmp_path / "run" / "images").iterdir()
    # other common names for the same files: <stem>_x<s>.png
    for f in folder.iterdir():
        f.rename(f.with_name(f"{f.stem}_x{scale}.png"))
    assert main(["score", "--sr", str(folder), "--set", "set5", "--scale", str(scale), "--protocol", protocol,
                 "--metrics", metrics, "--data-root", str(datasets_root), "--out", str(tmp_path / "score"),
                 "--label", "saved", "--format", "json", "--workers", "1"]) == 0
    scored = json.loads(capsys.readouterr().out)["results"][0]
    names = metrics.split(",")
    assert _images(scored, *names) == _images(run, *names)
    assert scored["model"] == "saved" and scored["identity"]["model"]["kind"] == "sr-folder"


def test_score_missing_extra_and_wrong_size(tmp_path, capsys):
    from srbench.datasets import open_dataset

    ds = open_dataset("demo")
    folder = tmp_path / "sr"
    folder.mkdir()
    from srbench.imaging.io import write_png

    for s in ds.samples[:3]:
        hr, _ = read_image(s.hr_path)
        write_png(modcrop(hr, 2), folder / f"{s.stem}_SR.png")
    assert main(["score", "--sr", str(folder), "--set", "demo", "--scale", "2", "--out", str(tmp_path / "o")]) == 2
    assert "no SR image for 2 of 5 images" in capsys.readouterr().err
    assert main(["score", "--sr", str(folder), "--set", "demo", "--scale", "2", "--allow-missing", "--workers", "1",
                 "--out", str(tmp_path / "o"), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out and '"inf"' in out  # strict JSON: identical images are the string "inf"
    doc = loads(out)["results"][0]
    assert doc["n_images"] == 3 and doc["provenance"]["dataset"]["complete"] is False
    assert all(i["psnr"] == float("inf") for i in doc["images"])  # the HR itself: identical images
    hr, _ = read_image(ds.samples[0].hr_path)
    write_png(hr[:64, :64], folder / f"{ds.samples[0].stem}_SR.png")
    assert main(["score", "--sr", str(folder), "--set", "demo", "--scale", "2", "--allow-missing",
                 "--workers", "1", "--out", str(tmp_path / "o2")]) == 2
    assert "SR is 64x64 but the HR (modcropped) is" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# compute


def test_compute_niqe_matlab_and_official_release_input(shared):
    baboon, _ = read_image(shared / "calibration" / "images" / "basicsr" / "baboon.png")
    # BasicSR documents MATLAB R2021a NIQE 5.72957338: Y of rgb2ycbcr, rounded, no crop
    assert compute("niqe", baboon, nr_shave=0) == pytest.approx(5.72957338, abs=1e-3)
    # the official release's computequality.m on rgb2gray(uint8): MATLAB's coefficients, rounded
    from srbench.metrics.niqe import load_niqe_params, niqe

    gray = np.floor(baboon.astype(np.float64) @ [0.298936021293775, 0.587043074451121, 0.114020904255103] + 0.5)
    assert compute("niqe", baboon, nr_luma="gray", nr_shave=0) == pytest.approx(niqe(gray, *load_niqe_params()), abs=1e-12)
    assert compute("niqe", baboon, nr_luma="gray", nr_shave=0) != compute("niqe", baboon, nr_shave=0)


def test_compute_on_grey_images_equals_evaluate(tmp_path, shared):
    g = modcrop(read_image(shared / "datasets" / "Set14" / "HR" / "bridge.png")[0], 2)
    assert g.ndim == 2
    (tmp_path / "g").mkdir()
    from srbench.imaging.io import write_png

    write_png(g, tmp_path / "g" / "bridge.png")
    doc = srbench.evaluate("bicubic", f"folder:{tmp_path / 'g'}", 2, metrics=("psnr", "ssim"))
    sr = round_uint8(imresize(imresize(g, Fraction(1, 2)) / 255.0, 2) * 255.0)  # the zoo bicubic's arithmetic
    assert compute("psnr", sr, g, scale=2) == pytest.approx(doc["images"][0]["psnr"], abs=1e-9)
    assert compute("ssim", sr, g, scale=2) == pytest.approx(doc["images"][0]["ssim"], abs=1e-12)
    # the same grey image read as RGB: the 16-235 scale raises PSNR by 20 log10(255/219)
    rgb = compute("psnr", sr, g, scale=2, gray="replicate")
    assert rgb - doc["images"][0]["psnr"] == pytest.approx(20 * np.log10(255 / 219), abs=1e-9)


def test_compute_validates_settings_and_needs():
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(SrbenchError, match="sr_rounding='trunc' is not valid"):
        compute("psnr", img, img, scale=2, sr_rounding="trunc")
    with pytest.raises(SrbenchError, match="unknown protocol setting"):
        compute("psnr", img, img, scale=2, shavee=2)
    with pytest.raises(SrbenchError, match="need the HR image"):
        compute("psnr", img)
    with pytest.raises(SrbenchError, match="pass scale="):
        compute("psnr", img, img)


# ---------------------------------------------------------------------------------------------
# the protocol and its one reader


@pytest.mark.parametrize("field, value", [("sr_rounding", "trunc"), ("shave", "2"), ("gray", "rgb"),
                                          ("lpips_net", "squeeze"), ("nr_shave", -1), ("y_rounding", 1),
                                          ("space", "ycbcr")])
def test_invalid_protocol_value_fails_at_definition(field, value):
    settings = {**get_protocol("matlab").to_dict(), field: value}
    settings = {k: v for k, v in settings.items() if k in Protocol.__dataclass_fields__}
    with pytest.raises(SrbenchError, match=f"{field}={value!r} is not valid"):
        Protocol(**settings)


def test_every_protocol_setting_is_read_by_the_pipeline_only(datasets_root, monkeypatch):
    """Record which module reads each Protocol setting during real evaluations."""
    import inspect

    settings = set(Protocol.__dataclass_fields__) - {"name", "version", "description", "source"}
    readers: dict[str, set] = {}
    real = Protocol.__getattribute__

    def spy(self, attr):
        if attr in settings:
            frame = inspect.currentframe().f_back
            readers.setdefault(attr, set()).add(frame.f_globals.get("__name__"))
        return real(self, attr)

    monkeypatch.setattr(Protocol, "__getattribute__", spy)
    for protocol, model, metrics in (("matlab", "bicubic", ("psnr", "ssim", "psnr_rgb", "lpips", "niqe")),
                                     ("fsrcnn", "fsrcnn-s", ("psnr", "niqe")), ("vdsr", "bicubic", ("psnr",)),
                                     ("tpsr", "bicubic", ("lpips",))):
        srbench.evaluate(model, "set5", 2 if model != "bicubic" or protocol != "tpsr" else 4, protocol=protocol,
                         metrics=metrics, data_root=datasets_root, limit=1)
    # protocols.py's to_dict()/replace() read fields through dataclasses.asdict/replace
    assert readers and set().union(*readers.values()) <= {"srbench.protocol.pipeline", "srbench.protocol.protocols", "dataclasses"}, readers
    assert settings - {"lpips_version"} <= set(readers)  # every setting drives the pipeline


def test_plan_is_picklable_and_the_unit_is_a_function_of_plan_and_sample(datasets_root):
    import pickle

    plan = make_plan("bicubic", "set5", 2, data_root=datasets_root, metrics=("psnr",))
    again = pickle.loads(pickle.dumps(plan))
    a = evaluate_shard(plan, plan.samples[:1])
    b = evaluate_shard(again, again.samples[:1])
    assert a[0]["psnr"] == b[0]["psnr"]
    doc = aggregate(plan, evaluate_shard(plan, plan.samples))
    assert doc["metrics"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in doc["images"]]), abs=1e-12)


def test_pipeline_refuses_rgb_metrics_under_a_y_only_protocol():
    with pytest.raises(SrbenchError, match="Y-only; lpips need RGB output"):
        make_plan("fsrcnn", "demo", 2, protocol="fsrcnn", metrics=("lpips",))
    with pytest.raises(SrbenchError, match="is an RGB model"):
        make_plan("bicubic", "demo", 2, protocol="fsrcnn")
    assert pipeline.available_inputs(get_protocol("fsrcnn")) == {"y", "nr"}


# ---------------------------------------------------------------------------------------------
# the API and the CLI plan the same call identically


def _zoo_names():
    from srbench.models.registry import list_models

    return list_models()


@pytest.mark.parametrize("name", _zoo_names())
def test_api_and_cli_agree_on_every_cards_defaults(name, shared, tmp_path, capsys):
    from srbench.models.registry import get_card

    card = get_card(name)
    scale = card.default_scales()[0]
    # The card's defaults (protocol, metrics; the scale where the card has one) are left to srbench.
    scale_arg = None if len(card.default_scales()) == 1 else scale
    api = srbench.evaluate(name, "demo", scale_arg, limit=1)
    cli = _cli_doc(capsys, "--model", name, "--set", "demo", "--limit", "1", "--out", str(tmp_path),
                   *(["--scale", str(scale)] if scale_arg else []))
    assert api["identity_key"] == cli["identity_key"]
    assert api["protocol"] == cli["protocol"]
    expected = card.default_protocol and (card.paper_protocol if card.default_protocol == "paper" else card.default_protocol)
    assert api["protocol"]["name"] == (expected or "matlab")
    assert list(api["metrics"]) == list(cli["metrics"])
    if card.default_metrics:
        computable = [m for m in card.default_metrics if m not in api["metrics_unavailable"]]
        assert list(api["metrics"]) == computable
    metrics = list(api["metrics"])
    assert _images(api, *metrics) == _images(cli, *metrics)  # per image, bit for bit
