#!/usr/bin/env bash
# The .deb on a clean Debian: builds the package (cpack), makes a fresh
# Debian 12 root with debootstrap (minbase), and times, inside it, from
# `apt-get install ./perpetua_*.deb` (which brings every dependency from the
# archive) to the end of a first `rl-collect` run. Prints the figures:
#   deb_bytes, base_root_s (not counted), install_s, first_collect_s, total_s,
#   installed_root_mb
# Needs root, debootstrap and the Debian archive; takes minutes and a few GB
# in the work folder, which it removes at the end.
#
#   bench/deb_install_bench.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
work="${2:-$(mktemp -d /tmp/perpetua-deb-bench.XXXXXX)}"
mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
[ "$(id -u)" = 0 ] || { echo "deb_install_bench: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "deb_install_bench: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
cleanup() {
  for m in dev/pts dev proc sys; do umount -l "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/pkg"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >/dev/null
deb="$(ls "$work"/pkg/perpetua_*.deb)"

t0=$(now)
debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1
t1=$(now)
for m in proc sys dev dev/pts; do mount --bind "/$m" "$work/root/$m"; done
cp /etc/resolv.conf "$work/root/etc/resolv.conf" 2>/dev/null || true
cp "$deb" "$work/root/tmp/"
in_root() { chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            DEBIAN_FRONTEND=noninteractive "$@"; }

t2=$(now)
in_root apt-get update -q >"$work/apt.log" 2>&1
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >>"$work/apt.log" 2>&1
t3=$(now)
in_root rl-collect --env grasp --policy scripted --episodes 1 --out /tmp/first >/dev/null 2>"$work/collect.log"
t4=$(now)
in_root rl-data inspect --quick /tmp/first >/dev/null 2>&1

echo "deb_bytes $(stat -c %s "$deb")"
echo "base_root_s $(seconds "$t0" "$t1")"
echo "install_s $(seconds "$t2" "$t3")"
echo "first_collect_s $(seconds "$t3" "$t4")"
echo "total_s $(seconds "$t2" "$t4")"
echo "installed_root_mb $(du -sm --exclude=proc --exclude=sys --exclude=dev "$work/root" | cut -f1)"
