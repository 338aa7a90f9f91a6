"""Hostile inputs, the second trust sweep (issue 23): each cause that once gave a wrong number with exit 0,
a traceback or a hang is here a one-line error with exit 2 (and no result file), or the right number.

The style follows tests/test_trust.py: runs on the embedded demo set or small folders built from it;
cases that need a manifest set (Set5) skip without ../shared.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srbench
from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.store.results import loads


def one_line_error(rc, err, *fragments, code=2):
    assert rc == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


def no_result(out_dir):
    return not list(out_dir.rglob("*.json")) if out_dir.exists() else True


def run_cli(capsys, *argv):
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture(scope="module")
def demo():
    from srbench.datasets import open_dataset

    return {s.name: s.hr_path for s in open_dataset("demo").samples}


def folder_of(tmp_path, demo, names, sub="imgs"):
    d = tmp_path / sub
    d.mkdir(parents=True)
    for n in names:
        shutil.copy(demo[n], d / n)
    return d


# ---------------------------------------------------------------------------------------------
# 1. an incomplete or unverified set is never scored as the set


@pytest.fixture
def set5_copy(tmp_path, datasets_root):
    root = tmp_path / "data"
    shutil.copytree(datasets_root / "Set5" / "HR", root / "Set5" / "HR")
    return root


def _run_set5(capsys, root, out, *extra):
    return run_cli(capsys, "run", "--model", "bicubic", "--set", "set5", "--scale", "4", "--workers", "1",
                   "--data-root", str(root), "--out", str(out), "--format", "json", *extra)


@pytest.mark.parametrize("damage", ["deleted", "dangling", "loop", "extra", "altered"])
def test_manifest_set_copy_that_is_not_the_whole_set_is_refused(capsys, tmp_path, set5_copy, damage):
    hr = set5_copy / "Set5" / "HR"
    if damage == "deleted":
        (hr / "head.png").unlink()
    elif damage == "dangling":
        (hr / "head.png").unlink()
        (hr / "head.png").symlink_to(tmp_path / "nowhere.png")
    elif damage == "loop":
        (hr / "head.png").unlink()
        (hr / "head.png").symlink_to(hr / "head.png")
    elif damage == "extra":
        shutil.copy(hr / "baby.png", hr / "baby2.png")
    else:
        img = np.asarray(Image.open(hr / "bird.png")).copy()
        img[0, 0] ^= 1
        Image.fromarray(img).save(hr / "bird.png")
    rc, out, err = _run_set5(capsys, set5_copy, tmp_path / "res")
    one_line_error(rc, err, "set5", "not the whole set", "--allow-incomplete")
    assert out == "" and no_result(tmp_path / "res")


def test_allow_incomplete_labels_a_subset_kept_out_of_leaderboards_and_baselines(capsys, tmp_path, set5_copy):
    from srbench.datasets import open_dataset

    hr = set5_copy / "Set5" / "HR"
    (hr / "head.png").unlink()
    (hr / "head.png").symlink_to(tmp_path / "nowhere.png")
    rc, out, err = _run_set5(capsys, set5_copy, tmp_path / "res", "--allow-incomplete")
    assert rc == 0, err
    doc = loads(out)["results"][0]
    assert doc["n_images"] == 4 and "subset of 4 images" in err
    assert doc["provenance"]["dataset"]["complete"] is False
    assert "head.png" in doc["provenance"]["dataset"]["incomplete"]
    # the number is the mean over the 4 images present, computed independently here
    full = srbench.evaluate("bicubic", "set5", 4, data_root=open_dataset("set5").root.parent.parent)
    present = [i["psnr"] for i in full["images"] if i["name"] != "head.png"]
    assert doc["metrics"]["psnr"] == pytest.approx(np.mean(present), abs=1e-9)
    rc, _, err = run_cli(capsys, "baseline", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "b.json"))
    one_line_error(rc, err, "subset")
    assert not (tmp_path / "b.json").exists()
    rc, _, err = run_cli(capsys, "leaderboard", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "lb"),
                         "--no-plots")
    assert "| bicubic" not in "".join(p.read_text() for p in (tmp_path / "lb").glob("*.md"))


@pytest.mark.parametrize("damage", ["dangling", "loop"])
def test_folder_set_with_an_unreadable_image_is_refused(capsys, tmp_path, demo, damage):
    d = folder_of(tmp_path, demo, ["astronaut.png", "coffee.png"])
    target = tmp_path / "nowhere.png" if damage == "dangling" else d / "chelsea.png"
    (d / "chelsea.png").symlink_to(target)
    rc, out, err = run_cli(capsys, "run", "--model", "bicubic", "--set", f"folder:{d}", "--scale", "2",
                           "--workers", "1", "--out", str(tmp_path / "res"))
    one_line_error(rc, err, "chelsea.png", "unreadable", "--allow-incomplete")
    assert out == "" and no_result(tmp_path / "res")


# ---------------------------------------------------------------------------------------------
# 3. shipped LR pairs by full name when two HR files share a stem


def test_shipped_lr_pairs_by_full_name_when_stems_clash(capsys, tmp_path, demo):
    from fractions import Fraction

    from srbench.imaging.imresize import imresize
    from srbench.imaging.io import modcrop

    root = tmp_path / "clash"
    (root / "HR").mkdir(parents=True)
    (root / "LR_bicubic" / "X4").mkdir(parents=True)
    hr_png = np.asarray(Image.open(demo["astronaut.png"]).convert("RGB"))
    Image.fromarray(hr_png).save(root / "HR" / "baby.png")
    Image.open(demo["coffee.png"]).convert("RGB").save(root / "HR" / "baby.bmp")
    Image.fromarray(imresize(modcrop(hr_png, 4), Fraction(1, 4))).save(root / "LR_bicubic" / "X4" / "baby.png")
    doc = srbench.evaluate("bicubic", f"folder:{root}", 4)
    lr = {i["name"]: i["lr"] for i in doc["images"]}
    assert lr == {"baby.bmp": "generated", "baby.png": "shipped"}
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(root / "HR" / "baby.bmp", alone / "baby.bmp")
    reference = srbench.evaluate("bicubic", f"folder:{alone}", 4)["images"][0]["psnr"]
    assert {i["name"]: i["psnr"] for i in doc["images"]}["baby.bmp"] == pytest.approx(reference, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# 5. the gate is strict both ways


DEMO_RUN = ["run", "--model", "bicubic", "--set", "demo", "--scale", "2", "--workers", "1", "--format", "json"]


@pytest.fixture
def gate(capsys, tmp_path):
    assert main([*DEMO_RUN, "--out", str(tmp_path / "full")]) == 0
    base = tmp_path / "base.json"
    assert main(["baseline", "--results", str(tmp_path / "full"), "--out", str(base)]) == 0
    capsys.readouterr()
    return base, tmp_path


@pytest.mark.parametrize("extra", [["--limit", "2"], ["--precision", "fp16"]])
def test_baseline_refuses_subset_and_non_fp32_results(capsys, tmp_path, extra):
    assert main([*DEMO_RUN, "--out", str(tmp_path / "r"), *extra]) == 0
    capsys.readouterr()
    rc, _, err = run_cli(capsys, "baseline", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "b.json"))
    one_line_error(rc, err, "cannot be a baseline")
    assert not (tmp_path / "b.json").exists()


def _edit(base, tmp, fn):
    doc = json.loads(base.read_text())
    fn(doc)
    bad = tmp / "bad.json"
    bad.write_text(json.dumps(doc))
    return bad


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["entries"].append(d["entries"][0]), "declares 1 entries"),
    (lambda d: (d.pop("n_entries"), d["entries"].append(d["entries"][0])), "two baseline entries"),
    (lambda d: d["entries"][0].pop("images"), "lacks a valid 'images'"),
    (lambda d: d["entries"][0]["images"].pop("coffee.png"), "declares 5 images but holds 4"),
    (lambda d: d["entries"][0]["images"]["coffee.png"].pop("ssim"), "coffee.png (ssim)"),
    (lambda d: d["entries"][0].update(metrics={}), "lacks a valid 'metrics'"),
    (lambda d: d.update(tolerance={"psnr": 1}), "unknown key(s) tolerance"),
    (lambda d: d["entries"][0].update(psnr_tol=1), "unknown key(s) psnr_tol"),
])
def test_baseline_with_missing_or_duplicate_parts_or_unknown_keys_is_refused(capsys, gate, damage, message):
    base, tmp = gate
    bad = _edit(base, tmp, damage)
    rc, out, err = run_cli(capsys, "check", "--baseline", str(bad), "--results", str(tmp / "full"))
    one_line_error(rc, err, message)
    assert "PASS" not in out


def test_check_fails_a_subset_result_even_when_its_values_agree(capsys, gate):
    base, tmp = gate
    (result,) = (tmp / "full").glob("*.json")
    doc = json.loads(result.read_text())
    doc["provenance"]["dataset"]["complete"] = False  # as --allow-incomplete labels a subset
    (tmp / "sub").mkdir()
    (tmp / "sub" / "r.json").write_text(json.dumps(doc))
    rc, out, _ = run_cli(capsys, "check", "--baseline", str(base), "--results", str(tmp / "sub"))
    assert rc == 1 and "invalid" in out and "it is a subset" in out


def test_unknown_tolerance_name_is_refused(capsys, gate):
    base, tmp = gate
    rc, out, err = run_cli(capsys, "check", "--baseline", str(base), "--results", str(tmp / "full"), "--tol", "foo=1")
    one_line_error(rc, err, "unknown metric 'foo'")
    assert "PASS" not in out


def test_stored_tolerances_are_honoured(capsys, gate):
    base, tmp = gate
    (result,) = (tmp / "full").glob("*.json")
    doc = json.loads(result.read_text())
    doc["metrics"]["psnr"] -= 0.005  # within the default 0.01
    (tmp / "drift").mkdir()
    (tmp / "drift" / "r.json").write_text(json.dumps(doc))
    assert run_cli(capsys, "check", "--baseline", str(base), "--results", str(tmp / "drift"))[0] == 0
    strict = _edit(base, tmp, lambda d: d["tolerances"].update(psnr=0.001))
    rc, out, _ = run_cli(capsys, "check", "--baseline", str(strict), "--results", str(tmp / "drift"))
    assert rc == 1 and "REGRESSION" in out and "±0.001" in out
    # --tol still overrides the stored value
    assert run_cli(capsys, "check", "--baseline", str(strict), "--results", str(tmp / "drift"), "--tol", "psnr=0.01")[0] == 0


# ---------------------------------------------------------------------------------------------
# 2. --io applies to user models only


@pytest.mark.parametrize("model, io", [("fsrcnn", "colour=rgb"), ("bicubic", "value_range=255")])
def test_io_on_a_zoo_card_is_refused(capsys, tmp_path, model, io):
    rc, out, err = run_cli(capsys, "run", "--model", model, "--set", "demo", "--scale", "2", "--workers", "1",
                           "--io", io, "--out", str(tmp_path))
    one_line_error(rc, err, f"model '{model}' is a model card", "--io applies to user models")
    assert out == "" and no_result(tmp_path)


def test_io_on_a_card_file_is_refused(capsys, tmp_path):
    card = tmp_path / "c.toml"
    card.write_text(_card_text())
    rc, out, err = run_cli(capsys, "run", "--model", str(card), "--set", "demo", "--scale", "2", "--workers", "1",
                           "--io", "value_range=255", "--out", str(tmp_path / "r"))
    one_line_error(rc, err, "is a model card", "--io applies to user models")
    assert out == "" and no_result(tmp_path / "r")


def _card_text():
    from srbench.store.paths import data_dir

    return (data_dir("model_zoo") / "bicubic.toml").read_text()


def test_a_zoo_module_keeps_its_cards_io(shared):
    fsrcnn = srbench.create_model("fsrcnn", 2)  # a Y model
    doc = srbench.evaluate(fsrcnn, "demo", 2, limit=1, metrics=("psnr",))
    assert doc["provenance"]["io"]["colour"] == "y"
    by_card = srbench.evaluate("fsrcnn", "demo", 2, limit=1, metrics=("psnr",), protocol="matlab")
    assert doc["metrics"]["psnr"] == pytest.approx(by_card["metrics"]["psnr"], abs=1e-9)
    with pytest.raises(SrbenchError, match="is a zoo model: its I/O convention is its card's"):
        srbench.evaluate(fsrcnn, "demo", 2, limit=1, io={"colour": "rgb"})


# ---------------------------------------------------------------------------------------------
# 4 and 8. model outputs and model code: errors naming the model and the image


@pytest.fixture
def hostile_models(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "hostile_sr.py").write_text(textwrap.dedent('''
        import sys

        import numpy as np
        import torch
        import torch.nn.functional as F


        class Up(torch.nn.Module):
            def __init__(self, scale, gain=1.0, offset=0.0, cast=None, pair=False, fail=None):
                super().__init__()
                self.scale, self.gain, self.offset, self.cast, self.pair, self.fail = scale, gain, offset, cast, pair, fail
            def forward(self, x):
                if self.fail:
                    raise self.fail("weights not on this device")
                y = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
                y = y * self.gain + self.offset
                if self.cast is not None:
                    y = y.to(self.cast)
                return (y, y) if self.pair else y

        def times255(scale):      # returns [0, 255] under the default value_range 1
            return Up(scale, gain=255.0)
        def huge(scale):          # up to 4 x the range
            return Up(scale, gain=4.0)
        class Interp(torch.nn.Module):  # a learnable layer, then an op with no int8 kernel
            def __init__(self, scale):
                super().__init__()
                self.scale, self.conv = scale, torch.nn.Conv2d(3, 3, 3, padding=1)
            def forward(self, x):
                return F.interpolate(self.conv(x), scale_factor=self.scale, mode="bicubic", align_corners=False)

        def interp(scale):
            return Interp(scale)
        def shifted(scale):       # values down to -1.2 x the range (-300 on the 0-255 scale)
            return Up(scale, offset=-1.2)
        def overshoot(scale):     # overshoot as a GAN's (TPSR-ESRGAN: [-0.47, 1.59]): clamped, as the scripts do
            return Up(scale, gain=1.8, offset=-0.25)
        def int32(scale):
            return Up(scale, gain=255.0, cast=torch.int32)
        def pair(scale):
            return Up(scale, pair=True)
        def forward_fails(scale):
            return Up(scale, fail=RuntimeError)
        def builder_fails(scale):
            raise ValueError("checkpoint 'ckpt.pth' not found")
        def exits(scale):
            def sr(lr):
                sys.exit(0)
            return sr
        def float_callable(scale):
            def sr(lr):
                return np.kron(lr.astype(np.float64), np.ones((scale, scale, 1))) * 4.0
            return sr
    '''))
    monkeypatch.syspath_prepend(str(pkg))
    sys.modules.pop("hostile_sr", None)


def _run_model(capsys, tmp_path, model, *extra):
    return run_cli(capsys, "run", "--model", f"hostile_sr:{model}", "--set", "demo", "--scale", "2",
                   "--workers", "1", "--out", str(tmp_path / "res"), *extra)


@pytest.mark.parametrize("model, seen", [("times255", "255"), ("huge", "4"), ("shifted", "-1.2"),
                                         ("float_callable", "1020")])
def test_output_outside_the_declared_range_is_an_error(capsys, tmp_path, hostile_models, model, seen):
    rc, out, err = _run_model(capsys, tmp_path, model)
    one_line_error(rc, err, f"hostile_sr:{model}", "astronaut.png", "far outside the declared value range")
    assert seen in err.split("spans")[1].split("]")[0]
    assert out == "" and no_result(tmp_path / "res")


def test_overshoot_the_clamp_is_for_is_tolerated(capsys, tmp_path, hostile_models):
    rc, out, err = _run_model(capsys, tmp_path, "overshoot", "--format", "json", "--limit", "1")
    assert rc == 0, err
    psnr = loads(out)["results"][0]["metrics"]["psnr"]
    # independent reference: the same bilinear output clamped and rounded here, PSNR on MATLAB Y, shave 2
    import torch
    import torch.nn.functional as F

    from srbench.eval.plan import make_plan
    from srbench.imaging.color import rgb_to_y
    from srbench.protocol.pipeline import load, make_lr

    plan = make_plan("bicubic", "demo", 2, metrics=("psnr",), limit=1)
    loaded = load(plan.protocol, plan.samples[0], 2)
    lr, _ = make_lr(plan.protocol, loaded, plan.samples[0], 2)
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)) / 255.0).float()[None]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # srbench evaluates with one thread (float32 results depend on the count)
    try:
        y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) * 1.8 - 0.25
    finally:
        torch.set_num_threads(threads)
    sr = np.clip(np.floor((y * 255)[0].permute(1, 2, 0).double().numpy() + 0.5), 0, 255).astype(np.uint8)
    a, b = rgb_to_y(sr)[2:-2, 2:-2], rgb_to_y(loaded.hr)[2:-2, 2:-2]
    assert psnr == pytest.approx(10 * np.log10(255 ** 2 / np.mean((a - b) ** 2)), abs=1e-6)


@pytest.mark.parametrize("model, fragments", [
    ("int32", ["int32 tensor"]),
    ("pair", ["returned a tuple", "astronaut.png"]),
    ("forward_fails", ["RuntimeError: weights not on this device", "astronaut.png"]),
    ("builder_fails", ["its builder raised ValueError: checkpoint 'ckpt.pth' not found"]),
    ("exits", ["SystemExit", "astronaut.png"]),
])
def test_model_code_failures_are_one_line_naming_the_model(capsys, tmp_path, hostile_models, model, fragments):
    rc, out, err = _run_model(capsys, tmp_path, model)
    one_line_error(rc, err, f"hostile_sr:{model}", *fragments)
    assert out == "" and no_result(tmp_path / "res")


def test_int8_of_a_module_without_int8_kernels_is_one_line(capsys, tmp_path, demo, hostile_models):
    d = folder_of(tmp_path, demo, ["astronaut.png"])
    rc, out, err = run_cli(capsys, "run", "--model", "hostile_sr:interp", "--set", f"folder:{d}", "--scale", "2",
                           "--precision", "int8", "--workers", "1", "--out", str(tmp_path / "res"))
    one_line_error(rc, err, "cannot be quantised to int8", "upsample_bicubic2d")
    assert out == "" and no_result(tmp_path / "res")


def test_a_wrong_shape_names_model_and_image(tmp_path):
    import torch

    class Same(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(SrbenchError, match=r"model 'same' on astronaut.png: the model returned a tensor of shape"):
        srbench.evaluate(Same(), "demo", 2, label="same", limit=1)


# ---------------------------------------------------------------------------------------------
# 7. process hygiene: workers die with their driver; a Ray address that does not answer fails fast


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _is_pool_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's prctl")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_pool_workers_die_with_their_driver(tmp_path, signal_name):
    import signal
    import subprocess
    import time

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "slow_sr.py").write_text(textwrap.dedent('''
        import time

        def sleepy_sr(lr):
            time.sleep(120)

        def sleepy(scale):
            return sleepy_sr
    '''))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, str(pkg)]), "TQDM_DISABLE": "1"}
    driver = subprocess.Popen([sys.executable, "-m", "srbench.cli", "run", "--model", "slow_sr:sleepy", "--set", "demo",
                               "--scale", "2", "--workers", "2", "--executor", "process", "--out", str(tmp_path / "r")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [p for p in _children(driver.pid) if _is_pool_worker(p)]
            time.sleep(0.2)
        assert len(workers) >= 2, "the pool did not start"
        time.sleep(2)  # let the workers reach the model
        driver.send_signal(getattr(signal, signal_name))
        driver.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        survivors = [p for p in workers if _alive(p)]
        for p in survivors:  # clean up before failing
            os.kill(p, signal.SIGKILL)
        assert not survivors, f"workers {survivors} outlived their driver"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert no_result(tmp_path / "r")


def test_a_ray_address_that_does_not_answer_fails_fast(capsys, tmp_path):
    import time

    pytest.importorskip("ray")
    t0 = time.monotonic()
    rc, out, err = run_cli(capsys, "run", "--model", "bicubic", "--set", "demo", "--scale", "2", "--executor", "ray",
                           "--ray-address", "127.0.0.1:1", "--out", str(tmp_path))
    one_line_error(rc, err, "no Ray cluster answers at 127.0.0.1:1")
    assert time.monotonic() - t0 < 60 and out == "" and no_result(tmp_path)


# ---------------------------------------------------------------------------------------------
# 6. compute() and evaluate(): shapes and scales


@pytest.fixture(scope="module")
def photo(demo):
    return np.asarray(Image.open(demo["astronaut.png"]).convert("RGB"))[:192, :192]


def test_compute_refuses_a_grey_sr_against_an_rgb_hr(photo):
    with pytest.raises(SrbenchError, match="SR is single-channel .* but the HR is RGB"):
        srbench.compute("psnr", photo[..., 0], photo, scale=2)


@pytest.mark.parametrize("scale", [0, -4, 2.5, True])
def test_compute_and_evaluate_refuse_bad_scales(photo, scale):
    with pytest.raises(SrbenchError, match="scale must be a positive integer"):
        srbench.compute("psnr", photo, photo, scale=scale)
    import torch

    with pytest.raises(SrbenchError, match="scale must be a positive integer"):
        srbench.evaluate(torch.nn.Upsample(scale_factor=2), "demo", scale, limit=1)


def test_compute_and_evaluate_keep_giving_the_right_number(photo):
    # the checks above refuse nothing valid: a grey HR with an RGB SR is a grey source, as in evaluate
    rng = np.random.default_rng(0)
    noisy = np.clip(photo.astype(int) + rng.integers(-3, 4, photo.shape), 0, 255).astype(np.uint8)
    from srbench.imaging.color import rgb_to_y

    a, b = rgb_to_y(noisy)[4:-4, 4:-4], rgb_to_y(photo)[4:-4, 4:-4]
    assert srbench.compute("psnr", noisy, photo, scale=4) == pytest.approx(
        10 * np.log10(255 ** 2 / np.mean((a - b) ** 2)), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# 8. tracebacks that became one line


def test_niqe_of_a_constant_image_is_an_error_not_a_traceback(shared):
    flat = np.full((256, 256, 3), 128, np.uint8)
    with pytest.raises(SrbenchError, match="NIQE is undefined for this 248x248 image"):
        srbench.compute("niqe", flat)


def test_srbench_score_stays_callable(tmp_path):
    for _ in range(2):  # the submodule srbench.score once shadowed the function after the first call
        with pytest.raises(SrbenchError, match="not a directory"):
            srbench.score(tmp_path / "nope", "demo", 2)
    import srbench.eval.score as module

    assert callable(srbench.score) and module.score_plan


def _plan(tmp_path, body):
    plan = tmp_path / "plan.toml"
    plan.write_text(textwrap.dedent(f'''
        out = "res"
        [[runs]]
        models = ["bicubic"]
        sets = ["demo"]
        {body}
    '''))
    return plan


@pytest.mark.parametrize("body, message", [
    ('scales = [2]\nlimit = "3"', "limit must be a positive whole number of images, got '3'"),
    ("scales = [5]", "none of its models has weights at x5"),
])
def test_bad_sweep_plans_are_one_line(capsys, tmp_path, body, message):
    rc, out, err = run_cli(capsys, "sweep", str(_plan(tmp_path, body)), "--no-finish")
    one_line_error(rc, err, message)
    assert out == "" and no_result(tmp_path / "res")


def test_profile_of_a_huge_input_is_refused(capsys):
    rc, out, err = run_cli(capsys, "profile", "--model", "fsrcnn", "--scale", "2", "--runtime",
                           "--input", "100000x100000")
    one_line_error(rc, err, "--input 100000x100000 is too large")
    assert out == ""


def test_export_refuses_an_opset_the_exporter_does_not_write(capsys, tmp_path, shared):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "f.onnx"
    rc, stdout, err = run_cli(capsys, "export", "--model", "fsrcnn", "--scale", "2", "--opset", "1", "--out", str(out))
    one_line_error(rc, err, "ONNX opset 1: torch's exporter writes opset 18 or higher")
    assert not out.exists() and not list(tmp_path.iterdir()) and "opset 1" not in stdout


def _denied(monkeypatch, *targets):
    """Permission denied on ``targets`` (the tests run as root, which file modes do not stop: simulated)."""
    import errno
    import pathlib

    real_iterdir, real_open = pathlib.Path.iterdir, open
    targets = {str(t) for t in targets}

    def iterdir(self):
        if str(self) in targets:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_iterdir(self)

    def fake_open(file, *a, **k):
        if str(file) in targets:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)
    monkeypatch.setattr("builtins.open", fake_open)


@pytest.mark.parametrize("where", ["set dir", "image", "LR dir"])
def test_permission_denied_is_one_line(capsys, tmp_path, demo, monkeypatch, where):
    root = tmp_path / "s"
    folder_of(root, demo, ["astronaut.png", "coffee.png"], sub="HR")
    (root / "LR_bicubic" / "X2").mkdir(parents=True)
    target = {"set dir": root / "HR", "image": root / "HR" / "coffee.png", "LR dir": root / "LR_bicubic"}[where]
    _denied(monkeypatch, target)
    rc, out, err = run_cli(capsys, "run", "--model", "bicubic", "--set", f"folder:{root}", "--scale", "2",
                           "--workers", "1", "--out", str(tmp_path / "res"))
    one_line_error(rc, err, str(target), "permission denied")
    assert out == "" and no_result(tmp_path / "res")


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, fh):
        self.fh = fh

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def write(self, data):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("when", ["open", "write"])
def test_full_disk_while_creating_the_lock_is_one_line(capsys, tmp_path, monkeypatch, when):
    import errno

    from srbench.store import results

    def fake_open(file, mode="r", *a, **k):
        if str(file).endswith(".lock"):
            if when == "open":
                raise OSError(errno.ENOSPC, "No space left on device", str(file))
            return _FullDisk(open(file, mode, *a, **k))
        return open(file, mode, *a, **k)

    monkeypatch.setattr(results, "open", fake_open, raising=False)
    rc, out, err = run_cli(capsys, *DEMO_RUN, "--out", str(tmp_path / "res"))
    one_line_error(rc, err, ".lock", "the disk is full")
    assert out == "" and no_result(tmp_path / "res")


# ---------------------------------------------------------------------------------------------
# 9. unclear cases made clear


def test_empty_protocol_name_is_refused(capsys, tmp_path):
    rc, out, err = run_cli(capsys, *DEMO_RUN, "--protocol", "", "--out", str(tmp_path))
    one_line_error(rc, err, "protocol name is empty")
    assert out == "" and no_result(tmp_path)


def test_out_path_that_is_a_file_says_so(capsys, tmp_path):
    (tmp_path / "res").write_text("not a folder")
    rc, out, err = run_cli(capsys, *DEMO_RUN, "--out", str(tmp_path / "res"))
    one_line_error(rc, err, "in the way")
    assert "free space" not in err and out == ""


def test_pareto_on_an_empty_folder_is_exit_2(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "pareto", "--results", str(tmp_path))
    one_line_error(rc, err, "no whole-set fp32 results")
    assert out == ""


# ---------------------------------------------------------------------------------------------
# the newer paths: compare, certify, ntire-score, int8 recipes

RESULTS = Path(__file__).resolve().parent.parent / "leaderboards" / "results"


def test_compare_of_results_under_different_protocols_is_refused(capsys):
    a = RESULTS / "imdn__set5__x4__matlab__401115bb04.json"
    b = RESULTS / "carn-m__set5__x4__matlab-rgb__6835bef8ca.json"
    rc, out, err = run_cli(capsys, "compare", str(a), str(b))
    one_line_error(rc, err, "protocol")
    assert not out.strip()  # no number printed


def test_compare_of_an_int8_result_with_an_fp32_one_is_refused(capsys):
    fp32 = RESULTS / "imdn__set5__x4__matlab__401115bb04.json"
    int8 = next(RESULTS.glob("imdn__set5__x4__matlab__int8__*.json"))
    rc, out, err = run_cli(capsys, "compare", str(int8), str(fp32))
    one_line_error(rc, err, "precision")
    assert not out.strip()


@pytest.mark.parametrize("metrics, fragment", [("psnr_rgb,nope", "nope"), ("", "empty")])
def test_certify_of_an_unknown_or_empty_metric_list_is_one_line(capsys, metrics, fragment):
    rc, out, err = run_cli(capsys, "certify", "--metrics", metrics)
    one_line_error(rc, err, fragment)
    assert not out.strip()


@pytest.mark.parametrize("argv, fragment", [
    (["--year", "2019", "--model", "rlfn", "--psnr", "div2k-valid=29.1"], "2019"),
    (["--year", "2024", "--model", "rlfn", "--psnr", "div2k-lsdir-valid=26.96,div2k-lsdir-test=27.07"], "runtime"),
    (["--year", "2024", "--model", "rlfn", "--runtime-ms", "13.54", "--runtime-device", "NVIDIA GeForce RTX 3090"],
     "PSNR"),
])
def test_ntire_score_without_what_it_needs_is_one_line_and_no_score(capsys, argv, fragment):
    rc, out, err = run_cli(capsys, "ntire-score", *argv)
    one_line_error(rc, err, fragment)
    assert "Score_Final" not in out


def test_an_int8_recipe_of_another_backend_is_refused_before_anything_runs(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "run", "--model", "fsrcnn-s", "--set", "demo", "--scale", "2", "--precision",
                           "int8", "--backend", "onnxruntime", "--int8-recipe", "x86-hist-8bit", "--out",
                           str(tmp_path))
    one_line_error(rc, err, "x86-hist-8bit")
    assert no_result(tmp_path)


def test_an_architecture_its_builder_cannot_build_is_one_line(capsys):
    rc, out, err = run_cli(capsys, "profile", "--model", "imdn", "--scale", "4", "--arch", "num_modules=-1")
    one_line_error(rc, err, "imdn[num_modules=-1]", "cannot be built")
    assert not out.strip()
    with pytest.raises(SrbenchError, match="cannot be built"):
        srbench.create_model("imdn", 4, pretrained=False, num_modules=-1)
