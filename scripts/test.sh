#!/usr/bin/env bash
# Create/update .venv and run the whole test suite. Uses ../shared (datasets, weights mirror) when present.
set -euo pipefail
cd "$(dirname "$0")/.."
export TQDM_DISABLE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -d ../shared ]; then
  export SRBENCH_DATA="${SRBENCH_DATA:-$(cd ../shared/datasets && pwd)}"
  export SRBENCH_MIRROR="${SRBENCH_MIRROR:-$(cd ../shared/weights && pwd)}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/python -m pytest -q tests
