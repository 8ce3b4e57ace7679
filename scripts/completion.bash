# Bash completion for Perpetua's tools: verbs, then each verb's flags, then
# files. It reads the tool's own --help when you press Tab, so it is never out
# of date. Installed under each tool's name in share/bash-completion/completions;
# from a checkout: source scripts/completion.bash

_perpetua_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" tool="${COMP_WORDS[0]}" help verbs verb="" word v
  help="$("$tool" --help 2>/dev/null)" || return 0
  verbs="$(awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}' <<<"$help")"
  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    for v in $verbs; do [ "$word" = "$v" ] && verb="$v"; done
  done
  [ -n "$verb" ] && help="$("$tool" "$verb" --help 2>/dev/null)"
  if [[ "$cur" == -* ]]; then
    # Every flag the help names ("--a.b-c"), and the "--no-..." form of each
    # switch (shown as "--a.b=false").
    COMPREPLY=($(compgen -W "$(grep -oE -- '--[a-z][a-z0-9._-]*[a-z0-9](=(true|false))?' <<<"$help" |
      sed -E 's/^--(.*)=(true|false)$/--\1\n--no-\1/' | sort -u)" -- "$cur"))
  elif [ -z "$verb" ] && [ -n "$verbs" ]; then
    COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _perpetua_complete rl-collect rl-train rl-label rl-eval rl-goals rl-data rl-robot
