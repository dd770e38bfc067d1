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
# The store and app tests run against a real PostgreSQL too: the tests start a throwaway cluster from Debian's
# server binaries (tests/pg_cluster.py), so only the package is needed here.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing Debian postgresql for the audit-store tests..." >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq postgresql >/dev/null
fi
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Tests use their own temporary DRAFTER_HOME; never the user's index.
.venv/bin/python -m pytest tests "$@"

# Quality gates: the figures print on every run, and each gate fails the run when a change makes it worse.
# The floors sit just under the figures measured when they were set (README, "Quality gates"); the issue
# targets are higher and are not met yet.
gates_home="$(mktemp -d)"
trap 'rm -rf "$gates_home"' EXIT
# writer l (session 15) made the held-out set harder: twelve writers read 0.799 / 0.837 / 2.9% untuned, so the floors moved down 0.01;
# with writer m (session 16) thirteen writers read 0.794 / 0.823 at the session's start and 0.801 / 0.839 at its end
echo "== Fact layer, held-out blind excerpts (new layer beside the old regex layer)"
.venv/bin/python -m evals.facts.benchmark --split heldout --timing \
  --fail-under status_accuracy=0.79 --fail-under numeric_accuracy=0.83 --fail-under reversed_rate=0.04
echo "== Decisions on the project's letters (rules tuned on these) and on the held-out letters"
DRAFTER_HOME="$gates_home" .venv/bin/imr-drafter eval evals/letters --out "$gates_home/letters" --quiet \
  --systems retrieval_only,always_uphold \
  --fail-under retrieval_only.decision_accuracy=0.86 --fail-under retrieval_only.decision_kappa=0.62 \
  --fail-under retrieval_only.citation_page_recall_micro=0.82 --fail-under retrieval_only.key_fact_recall=0.74 \
  --fail-under retrieval_only.rouge_l=0.30 \
  --fail-under 'retrieval_only.edition_errors<=0'
DRAFTER_HOME="$gates_home" .venv/bin/imr-drafter eval evals/letters-heldout --out "$gates_home/letters-heldout" --quiet \
  --systems retrieval_only,always_uphold \
  --fail-under retrieval_only.decision_accuracy=0.74 --fail-under retrieval_only.decision_kappa=0.28
echo "== Decisions on the fresh blind letters (sessions 6, 7, 8, and the held-out halves of 9 to 14; measured before any rule saw them, not tuned on)"
# one gate per fresh set: accuracy and kappa floors just under the figure measured when the set was added (README)
fresh_gate() {
  DRAFTER_HOME="$gates_home" .venv/bin/imr-drafter eval "evals/$1" --out "$gates_home/$1" --quiet \
    --systems retrieval_only,always_uphold \
    --fail-under "retrieval_only.decision_accuracy=$2" --fail-under "retrieval_only.decision_kappa=$3" \
    --fail-under 'retrieval_only.edition_errors<=0'
}
# fresh14's held-out half (session 17, untuned): 0.697 / kappa 0.195 against always-uphold 0.879 (7 of 33 items to the reviewer)
fresh_gate letters-fresh14-heldout 0.64 0.12
# fresh13's held-out half (session 16, untuned): 0.750 / kappa 0.213 against always-uphold 0.958 (1 overturn in 24)
fresh_gate letters-fresh13-heldout 0.70 0.15
# fresh12's held-out half (session 15, untuned): 0.800 / kappa 0.412 against always-uphold 0.850
fresh_gate letters-fresh12-heldout 0.75 0.25
# fresh11's held-out half reads below always-uphold (13 of its 37 items go to the reviewer): the floor guards against worse
fresh_gate letters-fresh11-heldout 0.46 -0.10
fresh_gate letters-fresh10-heldout 0.64 0.08
fresh_gate letters-fresh9-heldout 0.66 0.20
fresh_gate letters-fresh 0.71 0.32
fresh_gate letters-fresh7 0.81 0.42
fresh_gate letters-fresh8 0.66 0.25
