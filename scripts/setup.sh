#!/usr/bin/env bash
# Installs what Perpetua needs on Debian 12 (idempotent: skips what is
# present), then configures and builds into build/.
#
#   scripts/setup.sh            install packages if needed, configure, build
#   PERPETUA_SKIP_INSTALL=1 scripts/setup.sh   build only
#   PERPETUA_BUILD_DIR=dir      build somewhere else (default: build)
#   PERPETUA_JOBS=N             parallel compile jobs (default: cores)
set -euo pipefail
case "${1:-}" in  # --help: the comment above, on stdout; nothing is installed, built or run
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PERPETUA_BUILD_DIR:-$root/build}"
jobs="${PERPETUA_JOBS:-$(nproc)}"

# Debian packages, each for a reason: scripts/packages.txt ("<use>: names  # why").
packages=()
while IFS= read -r line; do
  line="${line%%#*}"
  [[ "$line" =~ ^(run|build):(.*)$ ]] || continue
  read -r -a names <<<"${BASH_REMATCH[2]}"
  packages+=("${names[@]}")
done <"$root/scripts/packages.txt"
[ ${#packages[@]} -gt 0 ] || { echo "setup: no packages listed in scripts/packages.txt" >&2; exit 1; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${PERPETUA_SKIP_INSTALL:-0}" != 1 ] && [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  else
    echo "setup: missing packages; run this once, then run setup again:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

# Make the OpenMP OpenBLAS the active BLAS/LAPACK (DESIGN.md: ~3x faster).
if [ "$(id -u)" = 0 ] && command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu libopenblas.so.0-x86_64-linux-gnu; do
    target=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -n1 || true)
    [ -n "$target" ] && update-alternatives --set "$alt" "$target" >/dev/null 2>&1 || true
  done
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build "$build" --parallel "$jobs" >&2
echo "setup: built into $build" >&2
