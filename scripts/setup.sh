#!/usr/bin/env bash
# Creates .venv at the repo root and installs IMR Drafter into it (idempotent).
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
"$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "IMR Drafter needs Python 3.11 (found $("$py" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2; exit 1; }

[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=".venv/.imr-drafter-installed${extras:+-$extras}"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned to the CPU build: an unpinned torch pulls GBs of CUDA.
.venv/bin/pip install --quiet "torch==2.13.0"

# llama-cpp-python ships as source only. A native build (-DGGML_NATIVE=ON, the default) enables every
# instruction set the build machine reports, AMX included, and segfaults in llama_decode on these VMs;
# build a portable AVX2 wheel once and keep it in our own cache (pip's wheel cache ignores CMAKE_ARGS).
llama_version="0.3.36"
llama_cmake="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/imr-drafter/wheels/$(echo "$llama_cmake" | sha256sum | cut -c1-12)"
if ! ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
  echo "Building llama-cpp-python $llama_version (portable CPU build, about 5-9 minutes, once per machine)..." >&2
  mkdir -p "$wheels"
  CMAKE_ARGS="$llama_cmake" .venv/bin/pip wheel --quiet --no-deps --no-cache-dir -w "$wheels" "llama-cpp-python==$llama_version"
fi
.venv/bin/pip install --quiet --find-links "$wheels" -e ".${extras:+[$extras]}"
# An older venv may hold a native llama-cpp-python build: replace it with the portable wheel once.
wheel_file="$(ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl | head -n 1)"
if [ "$(cat .venv/.llama-wheel 2>/dev/null)" != "$wheel_file" ]; then
  .venv/bin/pip install --quiet --no-deps --force-reinstall "$wheel_file"
  echo "$wheel_file" > .venv/.llama-wheel
fi
echo "$want" > "$stamp"
