# Helpers shared by loop.sh and nightly.sh (sourced, never run). The sourcing
# script sets `prog` (its name in messages) first.

# tools_dir ROOT: where the rl-* tools are: $PERPETUA_BIN if set, else
# ROOT/build/bin (a source checkout), else the folder of the rl-train on PATH
# (an installed Perpetua, whose scripts live in share/perpetua/scripts).
tools_dir() {
  if [ -n "${PERPETUA_BIN:-}" ]; then
    echo "$PERPETUA_BIN"
  elif [ -x "$1/build/bin/rl-train" ] || ! command -v rl-train >/dev/null; then
    echo "$1/build/bin"
  else
    dirname "$(command -v rl-train)"
  fi
}

# die_usage MESSAGE: one line on stderr, exit 2.
die_usage() { echo "$prog: error: $1" >&2; exit 2; }

# require_int FLAG VALUE: VALUE must be a whole number 0..999999999 written
# plainly (no sign, decimals, exponent or leading zero), else die_usage.
require_int() {
  [[ "$2" =~ ^(0|[1-9][0-9]{0,8})$ ]] || die_usage "$1: '$2' is not a whole number"
}

# require_fraction FLAG VALUE: VALUE must be a decimal number in [0, 1].
require_fraction() {
  [[ "$2" =~ ^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$ ]] || die_usage "$1: '$2' is not a number in [0, 1]"
}

# require_algo FLAG VALUE: VALUE must be an rl-train verb the scripts run.
require_algo() {
  case "$2" in q|sac) ;; *) die_usage "$1: '$2' is not q or sac" ;; esac
}

# require_cell FLAG VALUE: VALUE must be a simulated cell or a robot address.
require_cell() {
  case "$2" in
    grasp|push|door|pendulum|tcp://*|unix://*) ;;
    *) die_usage "$1: '$2' is not grasp, push, door, pendulum or a robot tcp://HOST:PORT | unix:///PATH" ;;
  esac
}

# observe_time_default CELL: whether loop.sh and nightly.sh show the policy the
# clock unless told (--observe-time): 1 on grasp, where it was measured to help
# (docs/train.md, "Seeing the clock"), 0 elsewhere.
observe_time_default() { if [ "$1" = grasp ]; then echo 1; else echo 0; fi; }

# has_train_arg KEY ARG...: whether one of the ARGs sets rl-train's --KEY
# (as --KEY=VALUE, or --KEY followed by its value).
has_train_arg() {
  local key="$1" arg
  shift
  for arg in "$@"; do case "$arg" in "--$key"|"--$key="*) return 0 ;; esac; done
  return 1
}

# reject_owned_train_args PAIRS TRAIN_ARG...: die_usage when a TRAIN_ARG
# sets an rl-train flag that the script sets itself. PAIRS is a space-separated
# list of KEY=ADVICE (ADVICE: what to use instead, "-" for nothing, e.g.
# "batch-size=--batch-size data=-"), so the mistake is one clear line before
# any work, not rl-train's complaint after the bootstrap.
reject_owned_train_args() {
  local pairs="$1" pair key advice
  shift
  for pair in $pairs; do
    key="${pair%%=*}" advice="${pair#*=}"
    has_train_arg "$key" "$@" || continue
    if [ "$advice" = - ]; then die_usage "--train-arg --$key: $prog sets --$key itself"; fi
    die_usage "--train-arg --$key: $prog sets --$key itself; use $prog's $advice"
  done
}

# learner_flags ALGO CELL ONLINE FROM TRAIN_ARG...: sets learner_train, the
# rl-train flags that loop.sh and nightly.sh add by default for ALGO on CELL
# (ONLINE: 1 when a live collector shares the machine), leaving out those the
# user's TRAIN_ARGs set. FROM is the checkpoint the run resumes or starts from
# ("" or a missing file: none). SAC on grasp: initial temperature 0.1
# (measured, docs/train.md "Seeing the clock"); the exported policy averaged
# over about the last 2,000 updates (--sac.policy-average=0.0005; docs/train.md,
# "Averaging the policy is the default (stop 42)"; a checkpoint written
# without the average starts it from its live weights); a discrete terminate
# (docs/train.md, "A discrete terminate"), unless FROM's network has none (a
# run continues with the network it has); and one trainer thread beside a
# live collector, so that the paced collector keeps a core.
learner_flags() {
  local algo="$1" cell="$2" online="$3" from="$4"
  shift 4
  learner_train=()
  [ "$algo" = sac ] && [ "$cell" = grasp ] || return 0
  has_train_arg sac.initial-alpha "$@" || learner_train+=(--sac.initial-alpha=0.1)
  has_train_arg sac.policy-average "$@" || learner_train+=(--sac.policy-average=0.0005)
  if ! has_train_arg sac.network.discrete-terminate "$@" && ! has_train_arg no-sac.network.discrete-terminate "$@"; then
    if [ -z "$from" ] || [ ! -f "$from" ] ||
      "$bin/rl-train" inspect "$from" --yaml 2>/dev/null | grep -q '^ *discrete_terminate: true'; then
      learner_train+=(--sac.network.discrete-terminate)
    fi
  fi
  [ "$online" = 0 ] || has_train_arg threads "$@" || learner_train+=(--threads=1)
  return 0
}

# camera_flags ALGO CELL FROM CELL_ARG...: sets camera_cell, the rl-collect and
# rl-eval flags that add cameras by default: SAC on grasp sees through the
# wrist camera too (--cell.wrist-camera; docs/train.md, "A camera on the
# wrist"), unless a CELL_ARG sets it either way or FROM (the checkpoint the run
# resumes: "" or a missing file, none) never read its image (rl-train
# inspect's "observes" lines; a run continues with the cameras it has).
# QT-Opt's network takes one image.
camera_flags() {
  local algo="$1" cell="$2" from="$3"
  shift 3
  camera_cell=()
  [ "$algo" = sac ] && [ "$cell" = grasp ] || return 0
  ! has_train_arg cell.wrist-camera "$@" && ! has_train_arg no-cell.wrist-camera "$@" || return 0
  if [ -z "$from" ] || [ ! -f "$from" ] || "$bin/rl-train" inspect "$from" 2>&1 >/dev/null | grep -q '^observes *wrist_image '; then
    camera_cell=(--cell.wrist-camera)
  fi
  return 0
}

# checkpoint_algo CKPT: the rl-train verb of the learner that wrote CKPT (from
# rl-train inspect's table: "algorithm qtopt, step ..." -> q), or nothing if
# CKPT cannot be read.
checkpoint_algo() {
  "$bin/rl-train" inspect "$1" 2>&1 >/dev/null |
    awk '$1 == "algorithm" { sub(/,$/, "", $2); print ($2 == "qtopt" ? "q" : $2); exit }' || true
}

# clock_flags CELL VALUE: checks --observe-time VALUE (empty: the cell's
# default) and sets clock_cell (the rl-collect/rl-eval flags) and clock_train
# (the rl-train flags) for it: the clock in the observation, and the time
# limit served as the end of the task.
clock_flags() {
  local value="${2:-$(observe_time_default "$1")}"
  [[ "$value" =~ ^[01]$ ]] || die_usage "--observe-time: '$value' is not 0 or 1"
  clock_cell=() clock_train=()
  if [ "$value" = 1 ]; then clock_cell=(--cell.observe-time); clock_train=(--dataset.timeout-terminal); fi
}

# print_header FILE: the script's leading comment block, for --help (stdout).
print_header() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"; }

# eval_cell_flags CELL: the rl-eval flags that evaluate on CELL away from
# training: held-out objects for grasp; for the other cells, episode seeds
# that collection does not use (the caller's --seed).
eval_cell_flags() {
  if [ "$1" = grasp ]; then echo "--env grasp --objects heldout"; else echo "--env $1"; fi
}

# install_durably TMP DST: fsyncs TMP, renames it over DST and fsyncs DST's
# directory, so that DST holds its old content or TMP's, never a mix, also
# after a crash or power loss. Removes TMP and returns 6 (io) on failure.
install_durably() {
  if sync -- "$1" && mv -f -- "$1" "$2" && sync -- "$(dirname -- "$2")"; then return 0; fi
  rm -f -- "$1"
  return 6
}

# temporary DST: prints the name of a new empty file "DST.tmp-$prog.XXXXXX"
# beside DST (so two scripts never share one temporary file).
temporary() { mktemp "$1.tmp-$prog.XXXXXX"; }

# write_atomic FILE TEXT: FILE holds TEXT (plus a newline), as install_durably does.
write_atomic() {
  local tmp
  tmp=$(temporary "$1") || return 6
  printf '%s\n' "$2" >"$tmp" || { rm -f -- "$tmp"; return 6; }
  install_durably "$tmp" "$1"
}

# promote SRC DST: checkpoint SRC becomes DST, as install_durably does: a reader (a
# collector with --reload) and a crash at any instant see the old DST or the
# new one. Returns 6 (io) on failure, DST untouched.
promote() {
  local tmp
  tmp=$(temporary "$2") || return 6
  { cp -f -- "$1" "$tmp" && chmod 644 -- "$tmp"; } || { rm -f -- "$tmp"; return 6; }
  install_durably "$tmp" "$2"
}

# clean_temporaries FILE: removes FILE.tmp-$prog.* left by a killed run of
# this script (call it holding the script's lock, so none is in use).
clean_temporaries() {
  local stale
  for stale in "$1".tmp-"$prog".*; do
    [ -e "$stale" ] && rm -f -- "$stale"
  done
  return 0
}
