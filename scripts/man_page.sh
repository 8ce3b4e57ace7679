#!/usr/bin/env bash
# Writes the man page of one Perpetua tool with help2man (Debian: help2man):
# its --help, then a VERBS section with each verb's --help. The build runs it
# for every tool (cmake/install.cmake).
#
#   scripts/man_page.sh TOOL_BINARY OUT.1[.gz] VERSION   (.gz: compressed, as Debian ships them)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: man_page.sh TOOL_BINARY OUT.1 VERSION" >&2; exit 2; }
tool="$1" out="$2" version="$3"
name="$(basename "$tool")"
help="$("$tool" --help)"
summary="$(head -n 1 <<<"$help")"
summary="${summary%.}"
# The verbs: the lines of the "Subcommands:" section, "  NAME  description".
verbs="$(awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}' <<<"$help")"

include="$(mktemp)"
trap 'rm -f "$include" "$include.man"' EXIT
{
  # roff-escape: backslashes, and lines that would start with a control character.
  escape() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
  if [ -n "$verbs" ]; then
    echo "[VERBS]"
    for verb in $verbs; do
      echo ".SS \"$name $verb\""
      echo ".nf"
      "$tool" "$verb" --help | escape
      echo ".fi"
    done
  fi
  # The codes of lib/common/error.h (ExitCode), the same for every tool.
  echo "[EXIT STATUS]"
  echo "Every failure is one line on stderr and one of these codes:"
  echo ".TP"; echo "0"; echo "success"
  echo ".TP"; echo "1"; echo "an internal error (a bug)"
  echo ".TP"; echo "2"; echo "usage: a bad flag, value, config file or argument"
  echo ".TP"; echo "3"; echo "bad data: an invalid, damaged or mismatched dataset, checkpoint or goal file"
  echo ".TP"; echo "4"; echo "the simulator, renderer or robot failed or stopped answering"
  echo ".TP"; echo "5"; echo "a quality gate failed (rl-eval --min-success)"
  echo ".TP"; echo "6"; echo "output cannot be written (permissions, full disk)"
  echo ".TP"; echo "7"; echo "training diverged (NaN or Inf); the last good checkpoint is kept"
  echo ".TP"; echo "8"; echo "another run holds the lock; nothing was done"
  echo ".TP"; echo "130"; echo "interrupted (SIGINT or SIGTERM): stopped cleanly after flushing"
  echo "[SEE ALSO]"
  echo "The rl-collect, rl-train, rl-label, rl-goals, rl-eval, rl-data and rl-robot pages;"
  echo "/usr/share/perpetua/scripts/loop.sh, the perpetual learning loop."
} >"$include"
help2man --no-info --no-discard-stderr --version-string="$version" --name="$summary" \
  --include="$include" --output="$include.man" "$tool"
if [[ "$out" == *.gz ]]; then
  gzip -9n -c "$include.man" >"$out.tmp"
  mv "$out.tmp" "$out"
else
  mv "$include.man" "$out"
fi
