#!/usr/bin/env bash
# Installs every Debian package ptlab needs to build, test and run. Idempotent and non-interactive:
# packages already present are not touched, and `apt-get update` runs only when something is missing.
# Also makes sure the system BLAS is OpenBLAS: Debian's LibTorch on the reference BLAS is ~14x slower.
# On a system without apt/dpkg it prints what to install and exits 0, so the build can still try.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libyaml-cpp-dev libfmt-dev nlohmann-json3-dev
  libhdf5-dev hdf5-tools
  libsentencepiece-dev libpcre2-dev libicu-dev
  libgtest-dev libgmock-dev
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "ptlab setup: this is not a Debian-like system (no apt-get/dpkg); install these equivalents yourself:" >&2
  echo "  ${packages[*]}" >&2
  echo "  (LibTorch >= 1.13 with its CMake config, Open MPI, yaml-cpp, fmt, nlohmann-json, HDF5 C/C++," >&2
  echo "   SentencePiece, PCRE2, ICU, GoogleTest, and an optimised BLAS such as OpenBLAS)" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    if ((${#missing[@]})); then
      echo "ptlab setup: missing packages (${missing[*]}) and not root, without sudo: install them as root" >&2
      exit 1
    fi
  fi
fi

if ((${#missing[@]})); then
  echo "ptlab setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "ptlab setup: all ${#packages[@]} packages present"
fi

# The BLAS that LibTorch calls through libblas.so.3 must be OpenBLAS.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  alt="$lib-$arch"
  want="/usr/lib/$arch/openblas-openmp/$lib"
  current=$(readlink -f "/etc/alternatives/$alt" 2>/dev/null || true)
  if [[ -e "$want" && "$current" != "$want" ]]; then
    echo "ptlab setup: pointing $lib at OpenBLAS (was ${current:-unset})"
    "${sudo_cmd[@]}" update-alternatives --set "$alt" "$want" >/dev/null
  fi
  current=$(readlink -f "/etc/alternatives/$alt" 2>/dev/null || true)
  if [[ "$current" != *openblas* ]]; then
    echo "ptlab setup: error: $lib resolves to '${current:-nothing}', not OpenBLAS; LibTorch would be ~14x slower" >&2
    exit 1
  fi
done
echo "ptlab setup: BLAS is OpenBLAS ($(readlink -f /etc/alternatives/libblas.so.3-$arch))"
