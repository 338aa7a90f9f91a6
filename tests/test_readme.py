"""Every bash and python block of the README runs as written, in order, in one fresh folder (as a user
following the README would), with exit status 0.

Only two things are not run verbatim, each for a stated reason: the setup part (`python3 -m venv
.venv && .venv/bin/pip install -e .`) of the main command, which needs the package index and is what
made this environment (the `srbench run` after it is run as written), and `bash scripts/test.sh`, the
command that runs this test. Blocks on the benchmark sets skip when the images are not present.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SETUP = "python3 -m venv .venv && .venv/bin/pip install -e . && "
BENCHMARK_SET = re.compile(r"\b(set5|set14|b100|urban100|div2k)\b", re.IGNORECASE)


def blocks(text: str) -> list[tuple[int, str, str]]:
    """(line, language, code) of each fenced block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            out.append((i + 1, m.group(1), "\n".join(lines[i + 1:j]) + "\n"))
            i = j
        i += 1
    return out


RUNNABLE = [b for b in blocks(README.read_text()) if b[1] in ("bash", "python")]


def test_every_block_is_bash_python_or_a_diagram():
    langs = {lang for _, lang, _ in blocks(README.read_text())}
    assert langs <= {"bash", "python", "text"}, langs
    assert len(RUNNABLE) >= 5


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    (d / ".venv").symlink_to(Path(sys.prefix))  # `.venv/bin/srbench` of the main command
    return d


@pytest.mark.slow
@pytest.mark.parametrize("line,lang,code", RUNNABLE, ids=[f"README.md:{b[0]}" for b in RUNNABLE])
def test_readme_block_runs(line, lang, code, workdir, tmp_path_factory):
    if code.strip() == "bash scripts/test.sh":
        pytest.skip("the test command itself (it runs this test)")
    if BENCHMARK_SET.search(code) and not (os.environ.get("SRBENCH_DATA") or (REPO.parent / "shared").is_dir()):
        pytest.skip("needs the benchmark images: ../shared/datasets beside the checkout, or SRBENCH_DATA")
    if code.startswith(SETUP):
        code = code[len(SETUP):]  # installing needs the package index; the run after it is what we test
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.setdefault("SRBENCH_DATA", str(REPO.parent / "shared" / "datasets"))
    if lang == "python":
        script = workdir / f"block_{line}.py"
        script.write_text(code)
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"README.md:{line} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
