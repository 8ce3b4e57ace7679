#!/usr/bin/env bash
# The main job. For now (issue 2): set up, build, and show the tools.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
for tool in rl-collect rl-train rl-eval rl-label rl-goals rl-data; do
  "$root/build/bin/$tool" --version
done
