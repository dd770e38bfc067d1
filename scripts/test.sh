#!/usr/bin/env bash
# The whole test suite (unit + integration with the real embedding model and real Chroma).
# Sets up .venv with the test extras if needed. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The browser test drives Debian's Chromium with Playwright (Playwright's own browser download is not used).
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian chromium for the browser test..." >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Tests use their own temporary DRAFTER_HOME; never the user's index.
exec .venv/bin/python -m pytest tests "$@"
