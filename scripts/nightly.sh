#!/usr/bin/env bash
# Nightly retraining for cron: retrain on everything collected, evaluate, and
# promote only a policy that passes the gate.
#
#   scripts/nightly.sh [--dir runs/loop] [--steps 20000] [--eval-episodes 200]
#                      [--min-success 0] [--keep 7] [--seed 1] [--algo sac|q]
#                      [--env CELL] [--observe-time 0|1] [--cell-arg ARG]...
#                      [--train-arg ARG]...
#
# --algo, --env, --observe-time and --cell-arg as for scripts/loop.sh, and
# the same values the loop ran with (the learner of DIR/promoted.ckpt, the
# cell its data comes from and how the cell is shown; default: the learner
# that wrote DIR/promoted.ckpt, else sac; grasp; the clock shown on grasp
# only; sac on grasp with --sac.initial-alpha=0.1, --sac.policy-average=0.0005
# and, unless DIR/promoted.ckpt was trained without it,
# --sac.network.discrete-terminate, unless a --train-arg sets them). A
# --train-arg that sets what nightly sets itself (--data, --out, --steps,
# --seed, --resume, --init) is refused, exit 2.
# In DIR (the loop's directory: DIR/data holds the shards, DIR/promoted.ckpt
# the policy the robots run):
#   1. lock      DIR/.nightly.lock (flock): a second start while one runs
#                exits 8 at once and touches nothing.
#   2. train     rl-train ALGO --data DIR/data --out DIR/nightly/<run> --init
#                DIR/promoted.ckpt (<run> is the UTC start, YYYYmmdd-HHMMSS);
#                a run left unfinished by a crash (no DONE or FAILED marker)
#                is resumed with --resume instead of restarted. A run that
#                diverged (rl-train exit 7) or whose checkpoint or data is
#                damaged (exit 3) gets a FAILED marker (with the reason) and
#                is never resumed: the next start begins afresh from
#                DIR/promoted.ckpt, and a resume that fails with exit 3 does
#                so at once.
#   3. gate      rl-eval of the new policy on held-out objects (grasp) or
#                unseen episode seeds (other cells), paired with the
#                promoted one (--compare) and gated by --min-success.
#   4. promote   atomically and durably replace DIR/promoted.ckpt (collectors
#                running with --reload pick it up; a crash leaves the old one or
#                the new one) unless the gate failed or the paired test says the
#                new policy is worse.
#   5. prune     keep the newest --keep runs under DIR/nightly and their logs
#                (only directories named like runs are ever removed).
# Logs: DIR/logs/nightly-<run>.log. Exit codes: 0 promoted, 5 not promoted
# (gate failed or worse), 7 the run diverged, 8 locked, 130 interrupted, 2
# usage, else the failing tool's code.
#
# Crontab (every night at 02:00):
#   0 2 * * * cd /path/to/perpetua && scripts/nightly.sh --dir /srv/robot >>/srv/robot/logs/cron.log 2>&1
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

dir=runs/loop
steps=20000
eval_episodes=200
min_success=0
keep=7
seed=1
algo=
env=grasp
train_args=()
cell_args=()
observe_time=
prog=nightly
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
bin="$(tools_dir "$root")"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --eval-episodes) eval_episodes="$2"; shift 2 ;;
    --min-success) min_success="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --algo) algo="$2"; shift 2 ;;
    --env) env="$2"; shift 2 ;;
    --train-arg) train_args+=("$2"); shift 2 ;;
    --cell-arg) cell_args+=("$2"); shift 2 ;;
    --observe-time) observe_time="$2"; shift 2 ;;
    -h|--help) print_header "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
require_int --steps "$steps"
require_int --eval-episodes "$eval_episodes"
require_fraction --min-success "$min_success"
require_int --keep "$keep"
require_int --seed "$seed"
[ -z "$algo" ] || require_algo --algo "$algo"
require_cell --env "$env"
read -r -a eval_cell <<<"$(eval_cell_flags "$env")"
clock_flags "$env" "$observe_time"
eval_cell+=("${clock_cell[@]}" "${cell_args[@]}")
[ "$keep" -ge 1 ] || die_usage "--keep must be at least 1"
reject_owned_train_args "data=- out=- steps=--steps seed=--seed resume=- init=-" "${train_args[@]}"
[ -d "$dir/data" ] || die_usage "$dir/data: no dataset directory (run scripts/loop.sh or rl-collect first)"
[ -n "${PERPETUA_BIN:-}" ] || "$root/scripts/setup.sh"
# The learner: --algo, else the one that wrote the promoted policy, else sac.
[ -n "$algo" ] || [ ! -f "$dir/promoted.ckpt" ] || algo="$(checkpoint_algo "$dir/promoted.ckpt")"
[ -n "$algo" ] || algo=sac
learner_flags "$algo" "$env" 0 "$dir/promoted.ckpt" "${train_args[@]}"

mkdir -p "$dir/nightly" "$dir/logs"
exec 9>"$dir/.nightly.lock"
if ! flock -n 9; then
  echo "nightly: another nightly run holds $dir/.nightly.lock; nothing done" >&2
  exit 8
fi

clean_temporaries "$dir/promoted.ckpt"
clean_temporaries "$dir/promoted.from"

# Run directories, newest first (names are UTC start times; nothing else in
# DIR/nightly is ever touched). Globbing, not ls: any byte may be in a name.
runs_newest_first() {
  local path i all=()
  for path in "$dir"/nightly/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9]; do
    [ -d "$path" ] && [ ! -L "$path" ] && all+=("${path##*/}")
  done
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do printf '%s\0' "${all[i]}"; done
}

# The run to work on: an unfinished one (crash) is resumed, else a new one.
run=""
while IFS= read -r -d '' candidate; do
  if [ ! -f "$dir/nightly/$candidate/DONE" ] && [ ! -f "$dir/nightly/$candidate/FAILED" ]; then
    run=$candidate
    break
  fi
done < <(runs_newest_first)

new_run() {  # a fresh run from the promoted policy
  run=$(date -u +%Y%m%d-%H%M%S)
  while [ -e "$dir/nightly/$run" ]; do sleep 1; run=$(date -u +%Y%m%d-%H%M%S); done
  resume=()
  [ -f "$dir/promoted.ckpt" ] && resume=(--init "$dir/promoted.ckpt")
  return 0
}
resume=()
if [ -n "$run" ] && [ -f "$dir/nightly/$run/latest.ckpt" ]; then
  resume=(--resume)
elif [ -n "$run" ]; then
  [ -f "$dir/promoted.ckpt" ] && resume=(--init "$dir/promoted.ckpt")
else
  new_run
fi

child=0
trap 'say "interrupted"; [ "$child" = 0 ] || kill -TERM "$child" 2>/dev/null; wait; exit 130' INT TERM

# train: runs rl-train for $run; a divergence (7) or damage (3) marks the run FAILED.
train() {
  out="$dir/nightly/$run"
  mkdir -p "$out"
  log="$dir/logs/nightly-$run.log"
  say "run $run: training to step $steps ${resume[*]}"
  local status=0
  "$bin/rl-train" "$algo" --data "$dir/data" --out "$out" --steps "$steps" --seed "$seed" \
    "${resume[@]}" "${clock_train[@]}" "${learner_train[@]}" "${train_args[@]}" >/dev/null 2>>"$log" &
  child=$!
  wait "$child" || status=$?
  child=0
  case "$status" in
    0) return 0 ;;
    7) write_atomic "$out/FAILED" "diverged (rl-train exit 7): $(tail -n 1 "$log")"
       say "run $run: diverged; marked FAILED (the next run starts afresh from promoted.ckpt)" ;;
    3) write_atomic "$out/FAILED" "damaged checkpoint or data (rl-train exit 3): $(tail -n 1 "$log")"
       say "run $run: rl-train exited 3 ($(tail -n 1 "$log")); marked FAILED" ;;
    *) say "run $run: rl-train failed with exit code $status" ;;
  esac
  return "$status"
}
say() { echo "nightly: $*" | tee -a "$log" >&2; }

status=0
train || status=$?
if [ "$status" = 3 ] && [ "${resume[0]:-}" = --resume ]; then
  new_run
  say "starting a fresh run $run from promoted.ckpt"
  status=0
  train || status=$?
fi
[ "$status" = 0 ] || exit "$status"

compare=()
[ -f "$dir/promoted.ckpt" ] && compare=(--compare "$dir/promoted.ckpt")
status=0
"$bin/rl-eval" "${eval_cell[@]}" --policy "$out/latest.ckpt" "${compare[@]}" \
  --episodes "$eval_episodes" --seed "$seed" --min-success "$min_success" \
  --json "$out/eval.json" 2>>"$log" &
child=$!
wait "$child" || status=$?
child=0
if [ "$status" != 0 ] && [ "$status" != 5 ]; then
  say "rl-eval failed with exit code $status"
  exit "$status"
fi
verdict=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r.get("comparison", {}).get("verdict", "first"))' "$out/eval.json")
rate=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["a"]["success_rate"])' "$out/eval.json")
touch "$out/DONE"

result=0
if [ "$status" = 5 ]; then
  say "run $run: not promoted: success $rate is below --min-success $min_success"
  result=5
elif [ "$verdict" = worse ]; then
  say "run $run: not promoted: worse than the promoted policy (paired test)"
  result=5
else
  promote "$out/latest.ckpt" "$dir/promoted.ckpt" ||
    { say "error: cannot promote $out/latest.ckpt (disk full?)"; exit 6; }
  write_atomic "$dir/promoted.from" "$run" || { say "error: cannot write $dir/promoted.from"; exit 6; }
  say "run $run: promoted (success $rate, verdict vs previous: $verdict)"
fi

# Retention: the newest $keep runs and their logs; never the promoted run.
promoted_from=$(head -c 64 "$dir/promoted.from" 2>/dev/null | head -n 1 || true)
kept=0
while IFS= read -r -d '' old; do
  kept=$((kept + 1))
  [ "$kept" -le "$keep" ] && continue
  [ "$old" = "$promoted_from" ] && continue
  rm -rf -- "${dir:?}/nightly/$old" "$dir/logs/nightly-$old.log"
  say "pruned run $old"
done < <(runs_newest_first)
exit "$result"
