#!/usr/bin/env bash
# README command 2: install dependencies, build, and run the whole test suite (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
bash scripts/build.sh default
echo "ptlab test: build finished after $(( $(date +%s) - start )) s"
# The launcher=slurm tests submit to a real one-node Slurm on this machine (they skip, saying why, without
# root or Slurm; the test starts the daemons itself too).
if [[ $(id -u) -eq 0 ]]; then bash scripts/slurm-local.sh start || echo "ptlab test: no local Slurm; its tests will skip"; fi
ctest --preset default
echo "ptlab test: build + tests took $(( $(date +%s) - start )) s"
