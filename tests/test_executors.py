"""Executors: worker processes and Ray give the in-process values bit for bit; interruption and
worker death lose nothing; sweep plans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srbench.cli import main
from srbench.store.results import loads

REPO = Path(__file__).resolve().parent.parent


def _doc(capsys, *args) -> dict:
    assert main(["run", *args, "--format", "json"]) == 0
    return loads(capsys.readouterr().out)["results"][0]


def _values(doc, metrics=("psnr", "ssim", "lpips", "niqe")):
    return {i["name"]: tuple(i[m] for m in metrics if m in i) for i in doc["images"]}


def test_two_workers_give_the_values_of_one(capsys, datasets_root, tmp_path):
    args = ["--model", "fsrcnn-s", "--set", "set5", "--scale", "2", "--metrics", "psnr,ssim,lpips,niqe",
            "--data-root", str(datasets_root)]
    one = _doc(capsys, *args, "--workers", "1", "--out", str(tmp_path / "one"))
    two = _doc(capsys, *args, "--workers", "2", "--out", str(tmp_path / "two"))
    assert _values(one) == _values(two) and len(_values(one)) == 5
    assert one["metrics"] == two["metrics"]


def test_ctrl_c_during_a_parallel_run_then_resume_equals_a_clean_run(capsys, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "srbench.cli", "run", "--model", "bicubic", "--set", "demo", "--scale", "2,3",
           "--metrics", "psnr,ssim,niqe", "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # interrupt once the first result has some images in its journal
        journals = list(out.glob("*.partial.jsonl"))
        if journals and len(journals[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, workers included
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert "--resume" in err.decode()
    resumed = []
    for scale in ("2", "3"):
        resumed.append(_doc(capsys, "--model", "bicubic", "--set", "demo", "--scale", scale, "--metrics", "psnr,ssim,niqe",
                            "--workers", "2", "--out", str(out), "--resume"))
        clean = _doc(capsys, "--model", "bicubic", "--set", "demo", "--scale", scale, "--metrics", "psnr,ssim,niqe",
                     "--workers", "1", "--out", str(tmp_path / "clean"))
        assert _values(resumed[-1]) == _values(clean)
    assert not list(out.glob("*.partial.jsonl"))


# ---------------------------------------------------------------------------------------------
# Ray


@pytest.fixture
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray (optional extra srbench[ray]) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_local_cluster_equals_the_local_executor(capsys, ray_local, tmp_path):
    args = ["--model", "bicubic", "--set", "demo", "--scale", "2", "--metrics", "psnr,ssim,niqe"]
    local = _doc(capsys, *args, "--workers", "1", "--out", str(tmp_path / "local"))
    on_ray = _doc(capsys, *args, "--executor", "ray", "--out", str(tmp_path / "ray"))
    shipped = _doc(capsys, *args, "--executor", "ray", "--ray-ship-images", "--out", str(tmp_path / "ship"))
    assert _values(local) == _values(on_ray) == _values(shipped)
    assert local["identity_key"] == on_ray["identity_key"]  # the same result, whatever ran it


def _ray(*args, env=None):
    return subprocess.run([str(Path(sys.executable).parent / "ray"), *args], env=env, capture_output=True, text=True,
                          timeout=180)


def _children_running(ppid: int, title: str) -> list[int]:
    """pids of processes whose parent is ``ppid`` and whose command line starts with ``title``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == ppid and cmdline.startswith(title):
            out.append(int(d.name))
    return out


def _raylet_pid(node_manager_port: int) -> int | None:
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "raylet" in cmdline.split(" ")[0] and f"--node_manager_port={node_manager_port}" in cmdline:
                return int(d.name)
    return None


@pytest.mark.slow
def test_two_node_ray_cluster_survives_a_killed_worker(capsys, tmp_path):
    pytest.importorskip("ray", reason="Ray (optional extra srbench[ray]) is not installed")
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    port, worker_port = 46379, 46380
    head = _ray("start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                "--node-ip-address=127.0.0.1", env=env)
    assert head.returncode == 0, head.stderr
    try:
        worker = _ray("start", f"--address=127.0.0.1:{port}", "--num-cpus=1", f"--node-manager-port={worker_port}",
                      "--node-ip-address=127.0.0.1", env=env)
        assert worker.returncode == 0, worker.stderr
        raylet = _raylet_pid(worker_port)
        assert raylet is not None
        out = tmp_path / "ray"
        cmd = [sys.executable, "-m", "srbench.cli", "run", "--model", "bicubic", "--set", "demo", "--scale", "2",
               "--metrics", "psnr,ssim,niqe", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}",
               "--out", str(out), "--format", "json"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed = None
        deadline = time.time() + 300
        while killed is None and time.time() < deadline and proc.poll() is None:
            running = _children_running(raylet, "ray::_task")
            if running:  # a task is running on the worker node: kill its worker once
                os.kill(running[0], signal.SIGKILL)
                killed = running[0]
            time.sleep(0.05)
        stdout, stderr = proc.communicate(timeout=600)
        assert killed is not None, "no task ran on the worker node"
        assert proc.returncode == 0, stderr.decode()
        on_ray = loads(stdout.decode())["results"][0]
        local = _doc(capsys, "--model", "bicubic", "--set", "demo", "--scale", "2", "--metrics", "psnr,ssim,niqe",
                     "--workers", "1", "--out", str(tmp_path / "local"))
        assert _values(on_ray) == _values(local) and on_ray["n_images"] == 5
    finally:
        _ray("stop", "--force", env=env)


# ---------------------------------------------------------------------------------------------
# sweep


def test_sweep_runs_a_plan_resumably_and_finishes_with_leaderboards(capsys, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('out = "results"\n[[runs]]\nmodels = ["bicubic"]\nsets = ["demo"]\nscales = [2, 3]\n'
                    'protocols = ["matlab", "paper"]\nmetrics = ["psnr", "ssim"]\n'
                    '[leaderboard]\nout = "lb"\nplots = false\n'
                    '[baseline]\nout = "base.json"\nprotocol = "matlab"\n')
    assert main(["sweep", str(plan), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "4 results, 20 images" in listing  # x2, x3 under matlab and vdsr (bicubic's paper protocol)
    assert main(["sweep", str(plan), "--workers", "1"]) == 0
    files = sorted(p.name for p in (tmp_path / "results").glob("*.json"))
    assert len(files) == 4
    assert (tmp_path / "lb" / "matlab_x2.md").exists() and (tmp_path / "lb" / "vdsr_x3.md").exists()
    assert len(json.loads((tmp_path / "base.json").read_text())["entries"]) == 2
    assert main(["check", "--baseline", str(tmp_path / "base.json"), "--results", str(tmp_path / "results")]) == 0
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").glob("*.json")}
    assert main(["sweep", str(plan), "--workers", "1", "--no-finish"]) == 0  # resumed: nothing recomputed
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").glob("*.json")} == mtimes


def test_sweep_plan_errors_are_one_line(capsys, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('out = "r"\n[[runs]]\nmodels = ["bicubic"]\nsets = ["demo"]\nscale = [2]\n')
    assert main(["sweep", str(plan)]) == 2
    assert "unknown key 'scale'" in capsys.readouterr().err


def test_a_model_that_cannot_go_to_workers_is_a_clear_error():
    import numpy as np

    import srbench
    from srbench.errors import SrbenchError

    with pytest.raises(SrbenchError, match="cannot be sent to worker processes.*workers=1"):
        srbench.evaluate(lambda lr: np.repeat(np.repeat(lr, 2, 0), 2, 1), "demo", 2, workers=2)
