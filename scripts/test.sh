#!/usr/bin/env bash
# The whole test suite: set-up (packages, configure, build), then every test.
# Usage: scripts/test.sh [ctest arguments, e.g. -R data]
set -euo pipefail
case "${1:-}" in  # --help: the comment above, on stdout; nothing is installed, built or run
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PERPETUA_BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"
# Rendering is headless: never let a test reach for a display.
unset DISPLAY WAYLAND_DISPLAY
cd "$build"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900 "$@"
