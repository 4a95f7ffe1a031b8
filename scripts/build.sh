#!/usr/bin/env bash
# Configures and builds ptlab with a CMake preset (default: "default" = Release into build/).
# Usage: scripts/build.sh [preset] [target...]   (no target: everything, tests included)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
shift || true
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Relative paths in the ccache key: another clone of the same sources reuses the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake --preset "$preset" >/dev/null
if (($#)); then
  cmake --build --preset "$preset" --target "$@"
else
  cmake --build --preset "$preset"
fi
