#!/usr/bin/env bash
# README command 2: install dependencies, build, and run the whole test suite (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
bash scripts/build.sh default
echo "ptlab test: build finished after $(( $(date +%s) - start )) s"
ctest --preset default
echo "ptlab test: build + tests took $(( $(date +%s) - start )) s"
