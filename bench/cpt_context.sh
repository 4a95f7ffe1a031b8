#!/usr/bin/env bash
# CPT step time and peak RSS against the number of in-context demonstrations k, ptlab and PEFT one after the
# other (never both at once), one process per k (peak RSS is per process): `ptlab bench cpt` and its peer
# bench/cpt_peft_step.py, JSON lines on stdout.
# Usage: bench/cpt_context.sh [MODEL_DIR] [K...]   defaults: ../shared/models/stories260K, k = 4 16 64 128 256
#   env: THREADS (1), STEPS (3), TIMEOUT per run in seconds (600), PTLAB (build/launchers/ptlab), PYTHON (the venv's)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-${PTLAB_SHARED:-../shared}/models/stories260K}
shift || true
ks=("$@")
[ ${#ks[@]} -eq 0 ] && ks=(4 16 64 128 256)
ptlab=${PTLAB:-build/launchers/ptlab}
python=${PYTHON:-$(bash scripts/venv.sh)/bin/python}
for k in "${ks[@]}"; do
  timeout "${TIMEOUT:-600}" "$ptlab" bench cpt "$model" --k "$k" --threads "${THREADS:-1}" --steps "${STEPS:-3}" --json |
    sed 's/^{/{"side":"ptlab",/' || echo "{\"side\":\"ptlab\",\"k\":$k,\"error\":\"failed or timed out\"}"
  timeout "${TIMEOUT:-600}" "$python" bench/cpt_peft_step.py "$model" --k "$k" --threads "${THREADS:-1}" \
    --steps "${STEPS:-3}" 2>/dev/null | tail -1 | sed 's/^{/{"side": "peft", /' ||
    echo "{\"side\":\"peft\",\"k\":$k,\"error\":\"failed or timed out\"}"
done
