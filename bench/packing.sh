#!/usr/bin/env bash
# Packing small trials on one node: tokens/s of `ptlab bench train` (stories260K prompt-tuning steps) alone,
# two at once as independent processes (OpenMP spin-waiting vs OMP_WAIT_POLICY=PASSIVE), and two or three
# under mpirun, where ptlab picks the threads (cores / ranks on the node) and, with more ranks than cores,
# the passive wait policy itself. Prints a Markdown table (docs/sweeps.md, "Packing trials on a node").
#
# Usage: bench/packing.sh [PTLAB] [MODEL_DIR]   (defaults: build/launchers/ptlab, ../shared/models/stories260K)
set -euo pipefail
cd "$(dirname "$0")/.."
ptlab=${1:-build/launchers/ptlab}
model=${2:-../shared/models/stories260K}
args=(bench train "$model" --batch 8 --seq 128 --prompt 20 --steps 60 --warmup 10 --json)
mpirun_args=(--bind-to none)
[[ $(id -u) -eq 0 ]] && mpirun_args+=(--allow-run-as-root)
cores=$(nproc)

rate() { python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read().strip().splitlines()[-1])["tokens_per_s"]))'; }
# N copies at once (env and extra args given); prints the rates, one per line.
at_once() {
  local n=$1; shift
  local tmp; tmp=$(mktemp -d)
  for i in $(seq 1 "$n"); do env "$@" "$ptlab" "${args[@]}" >"$tmp/$i" 2>/dev/null & done
  wait
  for i in $(seq 1 "$n"); do rate <"$tmp/$i"; done
  rm -rf "$tmp"
}
under_mpirun() {
  local n=$1; shift
  local tmp; tmp=$(mktemp -d)
  mpirun "${mpirun_args[@]}" --oversubscribe -np "$n" --output-filename "$tmp/out" "$ptlab" "${args[@]}" >/dev/null 2>&1
  for f in "$tmp"/out/1/rank.*/stdout; do rate <"$f"; done
  rm -rf "$tmp"
}
row() {  # label, rates...
  local label=$1; shift
  local total=0 list=""
  for r in "$@"; do total=$((total + r)); list+="${list:+, }$r"; done
  printf '| %s | %s | %s |\n' "$label" "$list" "$total"
}

echo "| $cores cores: setup | tokens/s of each process | total |"
echo "|---|---:|---:|"
row "1 process, $cores threads" $(at_once 1 -u OMP_WAIT_POLICY)
row "2 processes at once, $cores threads each (OpenMP default wait policy)" $(at_once 2 -u OMP_WAIT_POLICY)
row "2 processes at once, $cores threads each, OMP_WAIT_POLICY=PASSIVE" $(at_once 2 OMP_WAIT_POLICY=PASSIVE)
row "1 process, $cores threads, OMP_WAIT_POLICY=PASSIVE" $(at_once 1 OMP_WAIT_POLICY=PASSIVE)
row "mpirun -np 2: ptlab picks $((cores / 2 > 0 ? cores / 2 : 1)) thread(s) each" $(under_mpirun 2)
row "mpirun -np 3 (oversubscribed): 1 thread each, PASSIVE set by ptlab" $(under_mpirun 3)
row "mpirun -np 4 (oversubscribed): 1 thread each, PASSIVE set by ptlab" $(under_mpirun 4)
