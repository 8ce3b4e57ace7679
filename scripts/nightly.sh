#!/usr/bin/env bash
# Nightly retraining for cron: retrain on everything collected, evaluate, and
# promote only a policy that passes the gate.
#
#   scripts/nightly.sh [--dir runs/loop] [--steps 20000] [--eval-episodes 200]
#                      [--min-success 0] [--keep 7] [--seed 1]
#
# In DIR (the loop's directory: DIR/data holds the shards, DIR/promoted.ckpt
# the policy the robots run):
#   1. lock      DIR/.nightly.lock (flock): a second start while one runs
#                exits 8 at once and touches nothing.
#   2. train     rl-train q --data DIR/data --out DIR/nightly/<run> --init
#                DIR/promoted.ckpt; a run left unfinished by a crash (no DONE
#                marker) is resumed with --resume instead of restarted.
#   3. gate      rl-eval of the new policy on held-out objects, paired with the
#                promoted one (--compare) and gated by --min-success.
#   4. promote   atomically replace DIR/promoted.ckpt (collectors running with
#                --reload pick it up) unless the gate failed or the paired test
#                says the new policy is worse.
#   5. prune     keep the newest --keep runs under DIR/nightly and their logs.
# Logs: DIR/logs/nightly-<run>.log. Exit codes: 0 promoted, 5 not promoted
# (gate failed or worse), 8 locked, 130 interrupted, 2 usage, else the failing
# tool's code.
#
# Crontab (every night at 02:00):
#   0 2 * * * cd /path/to/perpetua && scripts/nightly.sh --dir /srv/robot >>/srv/robot/logs/cron.log 2>&1
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${PERPETUA_BIN:-$root/build/bin}"

dir=runs/loop
steps=20000
eval_episodes=200
min_success=0
keep=7
seed=1
train_args=()
die_usage() { echo "nightly: error: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --eval-episodes) eval_episodes="$2"; shift 2 ;;
    --min-success) min_success="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --train-arg) train_args+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
for n in "$steps" "$eval_episodes" "$min_success" "$keep" "$seed"; do
  [[ "$n" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "'$n' is not a number"
done
[ "$keep" -ge 1 ] || die_usage "--keep must be at least 1"
[ -d "$dir/data" ] || die_usage "$dir/data: no dataset directory (run scripts/loop.sh or rl-collect first)"
[ -n "${PERPETUA_BIN:-}" ] || "$root/scripts/setup.sh"

mkdir -p "$dir/nightly" "$dir/logs"
exec 9>"$dir/.nightly.lock"
if ! flock -n 9; then
  echo "nightly: another nightly run holds $dir/.nightly.lock; nothing done" >&2
  exit 8
fi

# The run to work on: an unfinished one (crash) is resumed, else a new one.
run=""
for candidate in $(ls -1 "$dir/nightly" 2>/dev/null | sort -r); do
  if [ ! -f "$dir/nightly/$candidate/DONE" ]; then run=$candidate; break; fi
done
resume=()
if [ -n "$run" ] && [ -f "$dir/nightly/$run/latest.ckpt" ]; then
  resume=(--resume)
else
  [ -n "$run" ] || run=$(date -u +%Y%m%d-%H%M%S)
  [ -f "$dir/promoted.ckpt" ] && resume=(--init "$dir/promoted.ckpt")
fi
out="$dir/nightly/$run"
mkdir -p "$out"
log="$dir/logs/nightly-$run.log"
say() { echo "nightly: $*" | tee -a "$log" >&2; }

child=0
trap 'say "interrupted"; [ "$child" = 0 ] || kill -TERM "$child" 2>/dev/null; wait; exit 130' INT TERM

say "run $run: training to step $steps ${resume[*]}"
"$bin/rl-train" q --data "$dir/data" --out "$out" --steps "$steps" --seed "$seed" \
  "${resume[@]}" "${train_args[@]}" >/dev/null 2>>"$log" &
child=$!
wait "$child"
child=0

compare=()
[ -f "$dir/promoted.ckpt" ] && compare=(--compare "$dir/promoted.ckpt")
status=0
"$bin/rl-eval" --env grasp --objects heldout --policy "$out/latest.ckpt" "${compare[@]}" \
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
  cp -f "$out/latest.ckpt" "$dir/promoted.ckpt.tmp"
  mv -f "$dir/promoted.ckpt.tmp" "$dir/promoted.ckpt"
  echo "$run" >"$dir/promoted.from"
  say "run $run: promoted (success $rate, verdict vs previous: $verdict)"
fi

# Retention: the newest $keep runs and their logs; never the promoted run.
promoted_from=$(cat "$dir/promoted.from" 2>/dev/null || true)
ls -1 "$dir/nightly" | sort -r | tail -n +$((keep + 1)) | while read -r old; do
  [ "$old" = "$promoted_from" ] && continue
  rm -rf "${dir:?}/nightly/$old" "$dir/logs/nightly-$old.log"
  say "pruned run $old"
done
exit "$result"
