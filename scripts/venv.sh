#!/usr/bin/env bash
# Prints the project's Python environment: $PTLAB_VENV, else ~/.cache/ptlab/venv-<first 12 hex of
# sha256(scripts/requirements.txt)> — one environment per set of pins, shared by every clone (CMakeLists.txt
# asks this script too). Usage: "$(bash scripts/venv.sh)/bin/python".
set -euo pipefail
cd "$(dirname "$0")/.."
echo "${PTLAB_VENV:-$HOME/.cache/ptlab/venv-$(sha256sum scripts/requirements.txt | cut -c1-12)}"
