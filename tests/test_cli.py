"""The command line: outputs, result files, exit codes and interruption/resume."""

import csv
import io
import json

import pytest

from srbench.cli import main
from srbench.eval import unit

# The embedded demo set (5 of scikit-image's photographs): these tests run on a fresh clone too.
SET5_ARGS = ["--set", "demo", "--scale", "2"]


@pytest.fixture
def run(capsys, tmp_path):
    def _run(*args, out=None):
        rc = main(["run", "--model", "bicubic", "--out", str(out or tmp_path / "res"), "--workers", "1", *args])
        captured = capsys.readouterr()
        return rc, captured.out, captured.err
    return _run


def test_json_output_schema(run):
    rc, out, _ = run(*SET5_ARGS, "--format", "json")
    assert rc == 0
    doc = json.loads(out)["results"][0]
    assert {"model", "dataset", "scale", "protocol", "metrics", "n_images", "images", "provenance", "timings_s", "identity", "efficiency"} <= set(doc)
    assert doc["model"] == "bicubic" and doc["dataset"] == "demo" and doc["scale"] == 2 and doc["n_images"] == 5
    assert {"name", "version", "luma", "gray", "shave", "sr_rounding", "y_rounding", "lr_resize", "resize_kernel", "lpips_net", "nr_luma"} <= set(doc["protocol"])
    assert {"srbench_version", "git_hash", "torch_version", "device", "dtype", "weights"} <= set(doc["provenance"])
    assert set(doc["metrics"]) == {"psnr", "ssim"}
    # The set value is the mean of per-image values.
    assert doc["metrics"]["psnr"] == pytest.approx(sum(i["psnr"] for i in doc["images"]) / 5, abs=1e-12)


def test_result_file_written_per_model_set_scale(run, tmp_path):
    rc, _, _ = run("--set", "demo", "--scale", "2,4", out=tmp_path / "o")
    assert rc == 0
    files = sorted(p.name.rsplit("__", 1)[0] for p in (tmp_path / "o").glob("*.json"))
    assert files == ["bicubic__demo__x2__matlab", "bicubic__demo__x4__matlab"]
    assert not list((tmp_path / "o").glob("*.partial.jsonl"))


def test_csv_and_markdown_and_table(run):
    rc, out, _ = run(*SET5_ARGS, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and rows[0]["model"] == "bicubic" and float(rows[0]["psnr ↑"]) > 30
    rc, out, _ = run(*SET5_ARGS, "--format", "markdown")
    assert out.startswith("| model") and "psnr ↑" in out
    rc, out, _ = run(*SET5_ARGS)
    assert "bicubic" in out and "demo" in out


@pytest.mark.parametrize("args, message", [
    (["--set", "set55"], "unknown dataset 'set55'. Did you mean: set5"),
    (["--set", "demo", "--scale", "8"], "does not support x8"),
    (["--set", "demo", "--metrics", "pnsr"], "unknown metric 'pnsr'. Did you mean: psnr"),
    (["--set", "demo", "--protocol", "matlba"], "unknown protocol 'matlba'. Did you mean: matlab"),
    (["--set", "demo", "--scale", "two"], "bad scale"),
    (["--set", "demo", "--protocol", "fsrcnn"], "Y-only"),
])
def test_bad_input_exit_2_one_line(run, args, message):
    rc, out, err = run(*args)
    assert rc == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_suggests(capsys):
    assert main(["run", "--model", "bicubc", "--set", "set5"]) == 2
    assert "Did you mean: bicubic?" in capsys.readouterr().err


def test_missing_data_root(capsys, tmp_path):
    assert main(["run", "--model", "bicubic", "--set", "set5", "--scale", "2", "--data-root", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _count_images(monkeypatch, interrupt_at: int | None = None) -> list[str]:
    """Record the names of the images evaluated from now on; Ctrl-C at the `interrupt_at`-th one."""
    real = unit.process_image
    calls: list[str] = []

    def counting(plan, sample, runtime=None):
        calls.append(sample.name)
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(plan, sample, runtime)

    monkeypatch.setattr(unit, "process_image", counting)
    return calls


def _journal(folder):
    (journal,) = folder.glob("bicubic__demo__x2__matlab__*.partial.jsonl")
    return journal


def test_interrupt_keeps_finished_images_and_resume_completes(run, monkeypatch, tmp_path):
    real = unit.process_image
    _count_images(monkeypatch, interrupt_at=3)
    rc, _, err = run(*SET5_ARGS, "--format", "json", out=tmp_path / "r")
    assert rc == 130 and "--resume" in err
    journal = _journal(tmp_path / "r")
    assert len(journal.read_text().splitlines()) == 1 + 2  # the header + the two finished images

    calls = _count_images(monkeypatch)
    rc, out, _ = run(*SET5_ARGS, "--resume", "--format", "json", out=tmp_path / "r")
    assert rc == 0 and len(calls) == 3  # only the three missing images were computed
    resumed = json.loads(out)["results"][0]
    monkeypatch.setattr(unit, "process_image", real)
    rc, out, _ = run(*SET5_ARGS, "--format", "json", out=tmp_path / "fresh")
    assert json.loads(out)["results"][0]["metrics"] == resumed["metrics"]
    assert not journal.exists()


@pytest.mark.parametrize("kind, expected", [
    ("models", "bicubic"), ("datasets", "urban100"), ("metrics", "lpips"), ("protocols", "fsrcnn"),
])
def test_list(capsys, kind, expected):
    assert main(["list", kind]) == 0
    out = capsys.readouterr().out
    assert expected in out and all(line.strip() for line in out.splitlines())


def test_list_unknown_kind_exit_2(capsys):
    assert main(["list", "modles"]) == 2
    assert "Did you mean: models?" in capsys.readouterr().err


def test_missing_ma_model_computes_the_other_metrics(run, monkeypatch):
    # The Ma/NRQM forest (model.mat) is not available here: PI is reported missing, the rest is computed.
    monkeypatch.delenv("SRBENCH_MA_MODEL_SHA256", raising=False)
    rc, out, err = run("--set", "demo", "--scale", "4", "--metrics", "psnr,niqe,pi", "--limit", "2", "--format", "json")
    assert rc == 0
    doc = json.loads(out)["results"][0]
    assert set(doc["metrics"]) == {"psnr", "niqe"} and doc["metrics"]["niqe"] > 0
    assert "model.mat" in doc["metrics_unavailable"]["pi"]
    lines = [line for line in err.splitlines() if "pi not computed" in line]
    assert len(lines) == 1 and "model.mat" in lines[0] and "https://" in lines[0] and "SRBENCH_MIRROR" in lines[0]


@pytest.mark.parametrize("command, option", [("run", "--resume"), ("check", "--tol"), ("leaderboard", "--check"),
                                             ("compare-visual", "--box")])
def test_subcommand_help_lists_its_options(capsys, command, option):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert option in capsys.readouterr().out


def test_resume_never_mixes_protocol_versions(run, monkeypatch, tmp_path):
    _count_images(monkeypatch, interrupt_at=3)
    assert run(*SET5_ARGS, out=tmp_path / "r")[0] == 130
    journal = _journal(tmp_path / "r")
    lines = journal.read_text().splitlines()
    header = json.loads(lines[0])
    header["identity"]["protocol"]["version"] = "0"  # as if written by an older protocol version
    journal.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")

    calls = _count_images(monkeypatch)
    assert run(*SET5_ARGS, "--resume", out=tmp_path / "r")[0] == 0
    assert len(calls) == 5  # nothing reused from the other version's journal
    assert json.loads(next((tmp_path / "r").glob("*.json")).read_text())["protocol"]["version"] == "1"
