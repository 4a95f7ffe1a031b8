#!/usr/bin/env bash
# README command 1: install dependencies, build, and run `ptlab demo` (the embedded default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh default ptlab   # only the CLI: the tests are built by scripts/test.sh
exec build/launchers/ptlab demo "$@"
