#!/usr/bin/env bash
# The whole test suite (unit + integration with the real embedding model and real Chroma).
# Sets up .venv with the test extras if needed. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Tests use their own temporary DRAFTER_HOME; never the user's index.
exec .venv/bin/python -m pytest tests "$@"
