"""Results you can trust: identity, resume, concurrent runs, bad outputs and bad input (issue cases).

Everything here runs on the embedded demo set (scikit-image's photographs), so a fresh clone without
../shared tests it too.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import srbench
from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.store.results import ResultStore, loads

DEMO = ["--set", "demo", "--scale", "2", "--workers", "1"]


def run(capsys, *args, out):
    rc = main(["run", "--model", "bicubic", *DEMO, "--out", str(out), "--format", "json", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def doc_of(text: str) -> dict:
    return loads(text)["results"][0]


def one_line_error(rc, err, *fragments):
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


# ---------------------------------------------------------------------------------------------
# identity: results of other settings are never returned


def test_resume_never_returns_a_tiled_result_for_an_untiled_run(capsys, tmp_path):
    rc, out, _ = run(capsys, "--tile", "8", "--tile-overlap", "0", out=tmp_path)
    tiled = doc_of(out)["metrics"]["psnr"]
    rc, out, _ = run(capsys, "--resume", out=tmp_path)
    resumed = doc_of(out)["metrics"]["psnr"]
    rc, out, _ = run(capsys, out=tmp_path / "clean")
    clean = doc_of(out)["metrics"]["psnr"]
    assert resumed == clean and abs(tiled - clean) > 0.01  # seams changed the tiled number
    assert len(list(tmp_path.glob("*.json"))) == 2  # both kept, neither overwritten


def test_a_limit_run_never_replaces_or_answers_for_the_full_set(capsys, tmp_path):
    rc, out, _ = run(capsys, "--limit", "2", out=tmp_path)
    assert doc_of(out)["n_images"] == 2
    rc, out, _ = run(capsys, "--resume", out=tmp_path)
    full = doc_of(out)
    assert full["n_images"] == 5
    per_image = [i["psnr"] for i in full["images"]]
    assert full["metrics"]["psnr"] == pytest.approx(np.mean(per_image), abs=1e-12)
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_folder_sets_are_identified_by_content_not_by_path(capsys, tmp_path, monkeypatch):
    from srbench.datasets import open_dataset

    demo = open_dataset("demo").samples
    for sub, pick in (("a", demo[:2]), ("b", demo[2:4])):
        (tmp_path / sub / "imgs").mkdir(parents=True)
        for s in pick:
            shutil.copy(s.hr_path, tmp_path / sub / "imgs" / s.hr_path.name)
    monkeypatch.chdir(tmp_path / "a")
    assert main(["run", "--model", "bicubic", "--set", "folder:imgs", "--scale", "2", "--workers", "1",
                 "--out", str(tmp_path / "res"), "--format", "json"]) == 0
    first = doc_of(capsys.readouterr().out)
    monkeypatch.chdir(tmp_path / "b")
    assert main(["run", "--model", "bicubic", "--set", "folder:imgs", "--scale", "2", "--workers", "1", "--resume",
                 "--out", str(tmp_path / "res"), "--format", "json"]) == 0
    second = doc_of(capsys.readouterr().out)
    assert [i["name"] for i in second["images"]] == sorted(s.name for s in demo[2:4])
    assert second["metrics"]["psnr"] != first["metrics"]["psnr"]


# ---------------------------------------------------------------------------------------------
# bad model output is an error, not a score


@pytest.fixture
def bad_models(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "bad_sr.py").write_text(textwrap.dedent('''
        import torch

        class NaNOut(torch.nn.Module):
            def __init__(self, scale):
                super().__init__()
                self.scale = scale
            def forward(self, x):
                y = torch.nn.functional.interpolate(x, scale_factor=self.scale)
                return y * float("nan")

        class OOM(torch.nn.Module):
            def forward(self, x):
                raise torch.OutOfMemoryError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 96000000000 bytes")

        def nan(scale):
            return NaNOut(scale)

        def oom(scale):
            return OOM()
    '''))
    monkeypatch.syspath_prepend(str(pkg))
    sys.modules.pop("bad_sr", None)


def test_nan_output_is_an_error_naming_model_and_image(capsys, tmp_path, bad_models):
    rc = main(["run", "--model", "bad_sr:nan", *DEMO, "--out", str(tmp_path)])
    one_line_error(rc, capsys.readouterr().err, "bad_sr:nan", "astronaut.png", "NaN")
    assert not list(tmp_path.glob("*.json"))


def test_out_of_memory_suggests_tiling(capsys, tmp_path, bad_models):
    rc = main(["run", "--model", "bad_sr:oom", *DEMO, "--out", str(tmp_path)])
    one_line_error(rc, capsys.readouterr().err, "ran out of memory", "--tile", "96000000000 bytes")


def test_json_output_is_strict(capsys, tmp_path):
    rc, out, _ = run(capsys, out=tmp_path)
    assert rc == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


# ---------------------------------------------------------------------------------------------
# argument validation


@pytest.mark.parametrize("args, message", [
    (["--metrics", ","], "--metrics is empty"),
    (["--limit", "-1"], "--limit must be a positive number"),
    (["--limit", "-5"], "--limit must be a positive number"),
    (["--limit", "0"], "--limit must be a positive number"),
    (["--scale", ","], "--scale is empty"),
])
def test_bad_arguments_are_one_line_errors(capsys, tmp_path, args, message):
    rc = main(["run", "--model", "bicubic", "--set", "demo", "--scale", "2", "--out", str(tmp_path), *args])
    one_line_error(rc, capsys.readouterr().err, message)
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("args, message", [
    (["--model", ","], "--model is empty"),
    (["--model", "bicubic", "--set", "folder:"], "'folder:' needs a path"),
    (["--model", "bicubic", "--set", ","], "--set is empty"),
])
def test_empty_names_are_one_line_errors(capsys, tmp_path, args, message):
    rc = main(["run", *args, "--scale", "2", "--out", str(tmp_path)] + (["--set", "demo"] if "--set" not in args else []))
    one_line_error(rc, capsys.readouterr().err, message)


def test_existing_full_result_is_never_replaced_by_an_empty_metric_list(capsys, tmp_path):
    assert run(capsys, out=tmp_path)[0] == 0
    before = {p.name: p.read_text() for p in tmp_path.glob("*.json")}
    rc = main(["run", "--model", "bicubic", *DEMO, "--out", str(tmp_path), "--metrics", ","])
    assert rc == 2
    assert {p.name: p.read_text() for p in tmp_path.glob("*.json")} == before


# ---------------------------------------------------------------------------------------------
# concurrent runs and journals


def test_a_second_run_on_the_same_result_stops_and_keeps_the_first_runs_journal(capsys, tmp_path):
    plan = srbench.make_plan("bicubic", "demo", 2)
    with ResultStore(tmp_path, plan.stem, plan.identity, plan.key) as store:
        store.journal.start([])
        store.journal.append([{"name": "astronaut.png", "psnr": 1.0, "ssim": 0.5}])
        rc, _, err = run(capsys, out=tmp_path)
        one_line_error(rc, err, "another srbench run", plan.stem)
        assert store.journal.path.exists() and len(store.journal.path.read_text().splitlines()) == 2


def _interrupted(capsys, tmp_path, monkeypatch, at: int):
    from srbench.eval import unit

    real = unit.process_image
    calls = []

    def counting(plan, sample, runtime=None):
        calls.append(sample.name)
        if len(calls) == at:
            raise KeyboardInterrupt
        return real(plan, sample, runtime)

    monkeypatch.setattr(unit, "process_image", counting)
    assert run(capsys, out=tmp_path)[0] == 130
    monkeypatch.setattr(unit, "process_image", real)
    (journal,) = tmp_path.glob("*.partial.jsonl")
    return journal


def test_journal_without_its_header_is_not_resumed(capsys, tmp_path, monkeypatch):
    journal = _interrupted(capsys, tmp_path, monkeypatch, at=3)
    lines = journal.read_text().splitlines()
    forged = json.loads(lines[1])
    forged["psnr"] = 99.0  # an injected record must not change the mean
    journal.write_text(json.dumps(forged) + "\n" + "\n".join(lines[2:]) + "\n")
    rc, out, err = run(capsys, "--resume", out=tmp_path)
    resumed = doc_of(out)
    rc, out, _ = run(capsys, out=tmp_path / "clean")
    assert resumed["metrics"] == doc_of(out)["metrics"]
    assert "no header" in err


def test_invalid_duplicate_and_foreign_records_are_recomputed(capsys, tmp_path, monkeypatch):
    journal = _interrupted(capsys, tmp_path, monkeypatch, at=4)
    lines = journal.read_text().splitlines()  # header + astronaut, coffee, chelsea
    dup = json.loads(lines[1])
    dup["psnr"] = 12.0
    foreign = dict(json.loads(lines[2]), name="not-in-the-set.png")
    missing = {k: v for k, v in json.loads(lines[3]).items() if k != "ssim"}
    journal.write_text("\n".join([lines[0], lines[1], json.dumps(dup), json.dumps(foreign), json.dumps(missing)]) + "\n")
    rc, out, err = run(capsys, "--resume", out=tmp_path)
    resumed = doc_of(out)
    rc, out, _ = run(capsys, out=tmp_path / "clean")
    assert resumed["images"] == [dict(i, time_ms=r["time_ms"]) for i, r in zip(doc_of(out)["images"], resumed["images"])]
    assert "dropped" in err


def test_images_with_the_same_stem_are_two_records(capsys, tmp_path):
    from srbench.datasets import open_dataset

    hr = open_dataset("demo").samples[0].hr_path
    (tmp_path / "set").mkdir()
    shutil.copy(hr, tmp_path / "set" / "a.png")
    Image.open(hr).convert("RGB").rotate(90).save(tmp_path / "set" / "a.bmp")
    assert main(["run", "--model", "bicubic", "--set", f"folder:{tmp_path / 'set'}", "--scale", "2",
                 "--workers", "1", "--out", str(tmp_path / "o"), "--format", "json"]) == 0
    doc = doc_of(capsys.readouterr().out)
    assert [i["name"] for i in doc["images"]] == ["a.bmp", "a.png"]
    assert doc["images"][0]["psnr"] != doc["images"][1]["psnr"]


def test_lr_cache_entries_are_verified(capsys, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SRBENCH_HOME", str(home))
    rc, out, _ = run(capsys, out=tmp_path / "a")
    clean = doc_of(out)["metrics"]
    pngs = sorted((home / "lr_cache").glob("*.png"))
    assert len(pngs) == 5
    for p in pngs:  # tamper with every cached LR
        img = np.array(Image.open(p))
        Image.fromarray(255 - img).save(p)
    rc, out, err = run(capsys, out=tmp_path / "b")
    doc = doc_of(out)
    assert doc["metrics"] == clean and doc["provenance"]["dataset"]["lr"]["cached"] == 0
    assert "does not verify" in err
    rc, out, _ = run(capsys, out=tmp_path / "c")
    assert doc_of(out)["provenance"]["dataset"]["lr"]["cached"] == 5  # rewritten and reused


def test_results_and_cache_files_respect_the_umask(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SRBENCH_HOME", str(tmp_path / "home"))
    old = os.umask(0o022)
    try:
        assert run(capsys, "--save-images", out=tmp_path / "o")[0] == 0
    finally:
        os.umask(old)
    files = list((tmp_path / "o").rglob("*.json")) + list((tmp_path / "o" / "images").rglob("*.png")) \
        + list((tmp_path / "home" / "lr_cache").glob("*"))
    assert files and all(f.stat().st_mode & 0o777 == 0o644 for f in files)


# ---------------------------------------------------------------------------------------------
# failures end in one line and exit 2


def test_unwritable_out_and_home(capsys, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    rc, _, err = run(capsys, out=tmp_path / "file" / "sub")
    one_line_error(rc, err, "cannot create folder", str(tmp_path / "file" / "sub"))
    monkeypatch.setenv("SRBENCH_HOME", str(tmp_path / "file" / "home"))
    rc, _, err = run(capsys, out=tmp_path / "o")
    one_line_error(rc, err, "cannot")


def test_disk_full_names_the_path_and_keeps_the_previous_result(capsys, tmp_path, monkeypatch):
    assert run(capsys, out=tmp_path)[0] == 0
    (result,) = tmp_path.glob("*.json")
    before = result.read_text()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    rc, _, err = run(capsys, out=tmp_path)
    one_line_error(rc, err, "the disk is full", str(tmp_path))
    assert result.read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_corrupt_result_under_resume(capsys, tmp_path):
    assert run(capsys, out=tmp_path)[0] == 0
    (result,) = tmp_path.glob("*.json")
    result.write_text('{"model": "bicubic", ')
    rc, _, err = run(capsys, "--resume", out=tmp_path)
    one_line_error(rc, err, "not valid JSON", result.name)


def test_card_name_clash_is_one_line(capsys, tmp_path, monkeypatch):
    from srbench.models.registry import model_registry

    (tmp_path / "mine.toml").write_text(
        '[models.my-sr]\nfamily = "x"\nbuilder = "m:b"\nscales = [2]\naliases = ["imdn"]\n')
    monkeypatch.setenv("SRBENCH_ZOO_PATH", str(tmp_path))
    model_registry.cache_clear()
    try:
        one_line_error(main(["list", "models"]), capsys.readouterr().err, "alias 'imdn' of 'my-sr' is already taken")
        (tmp_path / "mine.toml").write_text('[models.imdn]\nfamily = "x"\nbuilder = "m:b"\nscales = [2]\n')
        model_registry.cache_clear()
        one_line_error(main(["list", "models"]), capsys.readouterr().err, "name 'imdn'", "already taken")
        (tmp_path / "mine.toml").write_text('[models.my-sr]\nfamily = "x"\nbuilder = "m:b"\nscales = [2]\nweigths = {}\n')
        model_registry.cache_clear()
        one_line_error(main(["list", "models"]), capsys.readouterr().err, "my-sr", "unknown key 'weigths'")
        (tmp_path / "mine.toml").write_text('[models.my-sr]\nfamily = "x"\nbuilder = "m:b"\nscales = [2]\n'
                                            '[models.my-sr.weights.x2]\nfile = "w.pth"\nurl = "file:///w.pth"\n')
        model_registry.cache_clear()
        one_line_error(main(["list", "models"]), capsys.readouterr().err, "weights.x2", "lacks sha256")
    finally:
        model_registry.cache_clear()


def test_malformed_baseline_entry(capsys, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"schema": "srbench-baseline/2", "entries": [{"model": "bicubic", "dataset": "demo"}]}))
    (tmp_path / "r").mkdir()
    assert run(capsys, out=tmp_path / "r")[0] == 0
    one_line_error(main(["check", "--baseline", str(base), "--results", str(tmp_path / "r")]),
                   capsys.readouterr().err, "entry 1", "lacks a valid 'scale'")


def test_decompression_bomb_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    rc, _, err = run(capsys, out=tmp_path)
    one_line_error(rc, err, "too large to decode safely")


def test_fetch_without_network(capsys, tmp_path, monkeypatch):
    one_line_error(main(["fetch", "--dataset", "set5", "--data-root", str(tmp_path)]), capsys.readouterr().err,
                   "SRBENCH_OFFLINE")
    monkeypatch.delenv("SRBENCH_OFFLINE")
    import urllib.error
    import urllib.request

    def no_network(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    one_line_error(main(["fetch", "--dataset", "set5", "--data-root", str(tmp_path)]), capsys.readouterr().err,
                   "cannot download", "Name or service not known")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# ---------------------------------------------------------------------------------------------
# images


def _png16(path, arr):
    import struct
    import zlib

    h, w, c = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_sixteen_bit_images_are_refused_and_alpha_is_recorded(capsys, tmp_path):
    (tmp_path / "s16").mkdir()
    _png16(tmp_path / "s16" / "a.png", (np.arange(64 * 64 * 3).reshape(64, 64, 3) * 7 % 65536).astype(np.uint16))
    rc = main(["run", "--model", "bicubic", "--set", f"folder:{tmp_path / 's16'}", "--scale", "2",
               "--workers", "1", "--out", str(tmp_path / "o")])
    one_line_error(rc, capsys.readouterr().err, "a.png", "more than 8 bits per channel")
    (tmp_path / "alpha").mkdir()
    rgba = np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha" / "a.png")
    assert main(["run", "--model", "bicubic", "--set", f"folder:{tmp_path / 'alpha'}", "--scale", "2",
                 "--workers", "1", "--out", str(tmp_path / "o"), "--format", "json"]) == 0
    doc = doc_of(capsys.readouterr().out)
    assert doc["images"][0]["alpha_dropped"] is True and doc["provenance"]["dataset"]["alpha_dropped"] == 1


def test_size_errors_name_the_file(tmp_path):
    (tmp_path / "tiny").mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (18, 300, 3), dtype=np.uint8)).save(tmp_path / "tiny" / "strip.png")
    with pytest.raises(SrbenchError, match="strip.png.*(smaller than the 11x11|too small)"):
        srbench.evaluate("bicubic", f"folder:{tmp_path / 'tiny'}", 4, metrics=("ssim",))
    with pytest.raises(SrbenchError, match="niqe on strip.png.*96x96 blocks"):
        srbench.evaluate("bicubic", f"folder:{tmp_path / 'tiny'}", 2, metrics=("niqe",))


# ---------------------------------------------------------------------------------------------
# the gate


@pytest.fixture
def gate(capsys, tmp_path):
    assert run(capsys, out=tmp_path / "full")[0] == 0
    base = tmp_path / "base.json"
    assert main(["baseline", "--results", str(tmp_path / "full"), "--out", str(base)]) == 0
    capsys.readouterr()
    return base, tmp_path


def _check(capsys, base, results):
    rc = main(["check", "--baseline", str(base), "--results", str(results)])
    return rc, capsys.readouterr().out


def test_gate_counts_images_missing_from_a_subset_result(capsys, gate):
    base, tmp = gate
    assert run(capsys, "--limit", "2", out=tmp / "sub")[0] == 0
    rc, out = _check(capsys, base, tmp / "sub")
    # the --limit result is another key: the baseline's full-set result is missing
    assert rc == 1 and "missing" in out
    # a full-set result that lost images (edited) counts each absent image as missing
    (result,) = (tmp / "full").glob("*.json")
    doc = json.loads(result.read_text())
    doc["images"] = doc["images"][:2]
    (tmp / "lost").mkdir()
    (tmp / "lost" / "r.json").write_text(json.dumps(doc))
    rc, out = _check(capsys, base, tmp / "lost")
    rows = [line for line in out.splitlines() if line.startswith("missing")]
    assert rc == 1 and len(rows) == 3 * 2  # 3 images x 2 metrics


def test_gate_fails_on_duplicate_keys_and_nan(capsys, gate):
    base, tmp = gate
    (result,) = (tmp / "full").glob("*.json")
    dup = tmp / "dup"
    dup.mkdir()
    shutil.copy(result, dup / "a.json")
    shutil.copy(result, dup / "b.json")
    rc, out = _check(capsys, base, dup)
    assert rc == 1 and "duplicate" in out and "a.json" in out and "b.json" in out
    nan = tmp / "nan"
    nan.mkdir()
    doc = json.loads(result.read_text())
    doc["metrics"]["psnr"] = float("nan")
    (nan / "r.json").write_text(json.dumps(doc))  # json writes a bare NaN token
    rc, out = _check(capsys, base, nan)
    assert rc == 1 and "invalid" in out


def test_leaderboard_refuses_two_results_for_one_cell(capsys, gate):
    base, tmp = gate
    (result,) = (tmp / "full").glob("*.json")
    shutil.copy(result, tmp / "full" / "copy.json")
    rc = main(["leaderboard", "--results", str(tmp / "full"), "--out", str(tmp / "lb"), "--no-plots"])
    one_line_error(rc, capsys.readouterr().err, "two results for bicubic on demo", "copy.json")
