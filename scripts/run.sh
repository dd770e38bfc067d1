#!/usr/bin/env bash
# The main job on the embedded defaults: set up .venv if needed, build/update the guideline index
# in DRAFTER_HOME and answer a sample search. Extra arguments go to `imr-drafter quickstart`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/imr-drafter quickstart "$@"
