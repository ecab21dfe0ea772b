#!/usr/bin/env bash
# Configures and builds Weave (release preset, tests included) into build/release.
# Usage: scripts/build.sh [PRESET]   (release | debug | release-nocuda)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
jobs="${WEAVE_BUILD_JOBS:-$(nproc)}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
