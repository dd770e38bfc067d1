#!/usr/bin/env bash
# The main job on the embedded defaults: set up .venv if needed, build/update the guideline index and
# assemble the embedded model in DRAFTER_HOME, then open the reviewer app on http://127.0.0.1:8501
# (loopback only, usage statistics off). Extra arguments go to `streamlit run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/imr-drafter prepare
exec .venv/bin/streamlit run app.py --server.headless true --server.address 127.0.0.1 \
  --browser.gatherUsageStats false "$@"
