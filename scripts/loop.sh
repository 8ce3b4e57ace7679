#!/usr/bin/env bash
# The perpetual learning loop on a simulated cell (or a robot), composed from
# the rl-* tools with shell pipelines. The README's main command.
#
#   scripts/loop.sh [--dir runs/loop] [--minutes 60] [--rounds 0] [--seed 1] [options]
#   scripts/loop.sh --algo sac --env push
#   scripts/loop.sh --config push.yaml --minutes 30   (flags override the file)
#
# Options: --env CELL (grasp | push | door | pendulum | a robot URL, default
# grasp; grasp collects on --objects train and evaluates on held-out
# objects, the other cells on unseen episode seeds), --algo q|sac (the
# rl-train verb, default q; the bootstrap uses the cell's own scripted
# policy either way), --round-steps N (gradient steps per round),
# --eval-episodes N (per round), --final-episodes N, --bootstrap-scripted N,
# --bootstrap-random N, --batch-size N, --collector-nice N (priority of the
# live collector, default 5), --pace R (the live collector takes at most R
# environment steps per gradient step, rl-collect --pace.*; 0 = unpaced;
# default 1 for sac, as SAC is usually run, and 0 for q, whose collectors
# ran asynchronously in QT-Opt), --rounds N (stop after N rounds; 0 = only the
# time budget), --offline, --train-arg ARG (passed to rl-train, repeatable:
# --network.* for q, --sac.* for sac), --config FILE (the same options as
# "key: value" lines, key without the dashes, e.g. "env: push" or
# "train-arg: --sac.critic-lr=3e-4"; "#" starts a comment).
#
# What it does, in DIR:
#   1. bootstrap   rl-collect with the scripted policy (epsilon-greedy toward
#                  random) and the random policy           -> DIR/data/
#   2. rounds      rl-collect --policy DIR/train/latest.ckpt --reload --forever
#                    | rl-train ALGO --data DIR/data --online - --resume
#                  for --round-steps gradient steps, then the collector is
#                  stopped (SIGTERM: it finishes its episode and flushes);
#                  rl-eval of the new checkpoint on held-out objects, paired
#                  with the promoted one; promotion to DIR/promoted.ckpt unless
#                  the paired test says it is worse; a row in DIR/curve.csv and
#                  the plot DIR/curve.png.
#   3. at the end  rl-eval of the promoted policy on --final-episodes held-out
#                  episodes -> DIR/final.json (its path is printed on stdout).
# With --offline the rounds train on the bootstrap data only (no collector):
# the baseline that shows what perpetual collection adds.
#
# Stopping and resuming: Ctrl-C (or SIGTERM) stops the round cleanly; running
# the same command again resumes (bootstrap counted from the data, training
# from DIR/train/latest.ckpt, the wall-clock budget from DIR/loop.state, a
# file of round=, spent_s= and round_s= lines holding whole numbers).
# Damage: episodes a killed collector left staged are recovered
# (rl-data recover) and shards that do not verify are moved to
# DIR/data/.quarantine (rl-data quarantine) before episodes are counted. A
# live collector that dies mid-round is restarted (at most 3 times a round);
# then the round fails. Promotion is atomic and durable (a crash leaves the
# old promoted.ckpt or the new one).
# Exit codes: 0 done, 2 usage, 3 a damaged loop.state or dataset, 8 another
# loop runs in DIR, 130 interrupted, otherwise the failing tool's code (4
# for a collector that keeps dying by a signal).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${PERPETUA_BIN:-$root/build/bin}"

dir=runs/loop
minutes=60
rounds=0
seed=1
round_steps=1500
eval_episodes=100
final_episodes=200
bootstrap_scripted=300
bootstrap_random=100
objects=train
offline=0
batch_size=64
collector_nice=5
algo=q
env=grasp
pace=
train_args=()

prog=loop
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
usage() { sed -n '2,53p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

# config_args FILE: prints the options of a --config file, one word per line
# ("key: value" -> "--key" and "value"; a bare "offline: true" -> "--offline").
config_args() {
  [ -f "$1" ] && [ -r "$1" ] || die_usage "--config: cannot read '$1'"
  local line n=0 key value
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line="${line%%#*}"
    [[ "$line" =~ ^[[:space:]]*$ ]] && continue
    [[ "$line" =~ ^[[:space:]]*([a-z][a-z_-]*)[[:space:]]*:[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] ||
      die_usage "--config: $1: line $n: expected 'key: value', got '${line:0:80}'"
    key="${BASH_REMATCH[1]//_/-}"; value="${BASH_REMATCH[2]}"
    value="${value#[\"\']}"; value="${value%[\"\']}"
    case "$key" in
      config) die_usage "--config: $1: line $n: a config file cannot include another" ;;
      offline) [ "$value" = true ] && echo "--offline"
               [[ "$value" =~ ^(true|false)$ ]] ||
                 die_usage "--config: $1: line $n: offline: '$value' is not true or false" ;;
      *) printf '%s\n%s\n' "--$key" "$value" ;;
    esac
  done <"$1"
}

# Options from --config files first, so that the command line overrides them.
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --config ]; then
    [ $((i + 1)) -lt ${#args[@]} ] || die_usage "--config needs a file"
    file_args=$(config_args "${args[i + 1]}") || exit $?
    mapfile -t file_words <<<"$file_args"
    [ -n "$file_args" ] || file_words=()
    set -- "${file_words[@]}" "$@"
    i=$((i + 1))
  fi
done
while [ $# -gt 0 ]; do
  case "$1" in
    --dir|--minutes|--rounds|--seed|--round-steps|--eval-episodes|--final-episodes|--bootstrap-scripted|\
    --bootstrap-random|--batch-size|--collector-nice|--algo|--env|--pace|--config|--train-arg)
      [ $# -ge 2 ] || die_usage "$1 needs a value" ;;
  esac
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --round-steps) round_steps="$2"; shift 2 ;;
    --eval-episodes) eval_episodes="$2"; shift 2 ;;
    --final-episodes) final_episodes="$2"; shift 2 ;;
    --bootstrap-scripted) bootstrap_scripted="$2"; shift 2 ;;
    --bootstrap-random) bootstrap_random="$2"; shift 2 ;;
    --batch-size) batch_size="$2"; shift 2 ;;
    --collector-nice) collector_nice="$2"; shift 2 ;;
    --offline) offline=1; shift ;;
    --algo) algo="$2"; shift 2 ;;
    --env) env="$2"; shift 2 ;;
    --pace) pace="$2"; shift 2 ;;
    --config) shift 2 ;;  # read above
    --train-arg) train_args+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
[[ "$minutes" =~ ^[0-9]{1,9}(\.[0-9]+)?$ ]] || die_usage "--minutes: '$minutes' is not a number"
require_algo --algo "$algo"
[ -n "$pace" ] || { [ "$algo" = sac ] && pace=1 || pace=0; }
[[ "$pace" =~ ^[0-9]{1,6}(\.[0-9]+)?$ ]] || die_usage "--pace: '$pace' is not a number >= 0"
require_cell --env "$env"
# The cell for collection and for evaluation: grasp collects on the training
# objects and is evaluated on held-out ones; other cells are evaluated on
# episode seeds that collection never uses.
collect_cell=(--env "$env")
read -r -a eval_cell <<<"$(eval_cell_flags "$env")"
[ "$env" != grasp ] || collect_cell+=(--objects "$objects")
require_int --rounds "$rounds"
require_int --seed "$seed"
require_int --round-steps "$round_steps"
require_int --eval-episodes "$eval_episodes"
require_int --final-episodes "$final_episodes"
require_int --bootstrap-scripted "$bootstrap_scripted"
require_int --bootstrap-random "$bootstrap_random"
require_int --batch-size "$batch_size"
require_int --collector-nice "$collector_nice"

# Build (a no-op when up to date) unless pointed at prebuilt tools.
[ -n "${PERPETUA_BIN:-}" ] || "$root/scripts/setup.sh"
mkdir -p "$dir"/{data,train,eval,logs}
log="$dir/logs/loop.log"
say() { echo "loop: $*" | tee -a "$log" >&2; }

exec 7>&-  # fd 7 is the live stream (below), open only during a round
# One loop per directory.
exec 9>"$dir/.loop.lock"
if ! flock -n 9; then
  echo "loop: error: another loop is running in $dir" >&2
  exit 8
fi

# State that survives a restart: the round reached and the wall-clock spent.
state="$dir/loop.state"
round=0
spent_s=0
round_s=0  # duration of the last completed round
load_state() {  # reads $state as data: only known keys, whole numbers
  local line n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    if [[ ! "$line" =~ ^(round|spent_s|round_s)=(0|[1-9][0-9]{0,9})$ ]]; then
      echo "loop: error: $state: line $n: expected round=N, spent_s=N or round_s=N" \
           "(N a whole number), got '${line:0:80}'" >&2
      exit 3
    fi
    printf -v "${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[2]}"
  done <"$state"
}
[ ! -f "$state" ] || load_state
clean_temporaries "$state"
clean_temporaries "$dir/promoted.ckpt"
save_state() {
  write_atomic "$state" "$(printf 'round=%s\nspent_s=%s\nround_s=%s' "$round" "$spent_s" "$round_s")"
}
start_s=$(date +%s)
elapsed_s() { echo $(( spent_s + $(date +%s) - start_s )); }
budget_s=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')

# Interrupts: stop the children cleanly, keep everything finished.
children=()
on_interrupt() {
  say "interrupted: stopping cleanly"
  # TERM, not INT: a shell started in the background ignores INT and so do
  # its children; the tools treat TERM exactly as INT.
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  spent_s=$(elapsed_s); save_state
  exit 130
}
trap on_interrupt INT TERM

# quarantine_invalid DIR: moves the shards of DIR that do not verify to
# DIR/.quarantine (logged); fails if there was none.
quarantine_invalid() {
  local out
  out=$("$bin/rl-data" quarantine "$1" 2>>"$log") || return $?
  [ -n "$out" ] || return 1
  say "quarantined: ${out//$'\n'/, }"
}

has_shards() { compgen -G "$1/shard-*.h5" >/dev/null; }

# episodes_in DIR: prints the episodes in dataset directory DIR. A dataset
# that does not inspect cleanly is repaired first: staged episodes of dead
# collectors are recovered and shards that do not verify are quarantined,
# each step logged; a dataset still invalid after that ends the loop (exit 3).
# Call it as `n=$(episodes_in DIR) || exit $?`.
episodes_in() {
  local out
  if has_shards "$1" && out=$("$bin/rl-data" inspect --quick "$1" 2>/dev/null); then
    count_of "$out"
    return
  fi
  "$bin/rl-data" recover "$1" >/dev/null 2>>"$log" || return $?
  has_shards "$1" || { echo 0; return; }
  if ! out=$("$bin/rl-data" inspect --quick "$1" 2>&1 >/dev/null); then
    say "$1 does not inspect cleanly (${out##*$'\n'}): verifying every shard"
    quarantine_invalid "$1" || { local moved=$?; [ "$moved" = 1 ] || return "$moved"; }
  fi
  has_shards "$1" || { echo 0; return; }
  if ! out=$("$bin/rl-data" inspect --quick "$1" 2>/dev/null); then
    say "error: $1 is still invalid after recovery and quarantine; see 'rl-data inspect $1'"
    return 3
  fi
  count_of "$out"
}
count_of() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["episodes"])' <<<"$1"; }

json_get() {  # json_get FILE EXPR  (EXPR over the parsed report "r")
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

run_collect() {  # run_collect ARGS...: a bounded collection into DIR/data
  "$bin/rl-collect" "${collect_cell[@]}" --out "$dir/data" "$@" >/dev/null 2>>"$log" &
  children=($!)
  wait "${children[0]}"
}

# 1. Bootstrap (counted from the data, so a restart collects only what is missing).
have=$(episodes_in "$dir/data") || exit $?
want=$((bootstrap_scripted + bootstrap_random))
if [ "$round" = 0 ] && [ "$have" -lt "$want" ]; then
  if [ "$have" -lt "$bootstrap_scripted" ]; then
    say "bootstrap: $((bootstrap_scripted - have)) scripted episodes (epsilon 0.3 toward random)"
    run_collect --policy scripted --exploration.epsilon 0.3 --exploration.toward random \
      --episodes $((bootstrap_scripted - have)) --first-episode "$have" --seed "$seed"
    have=$bootstrap_scripted
  fi
  say "bootstrap: $((want - have)) random episodes"
  run_collect --policy random --episodes $((want - have)) --first-episode "$have" \
    --seed $((seed + 1))
fi

curve="$dir/curve.csv"
[ -f "$curve" ] || echo "round,minutes,episodes,train_steps,success,wilson_low,wilson_high,promoted,verdict" >"$curve"

plot_curve() {
  command -v gnuplot >/dev/null || return 0
  gnuplot 2>>"$log" <<EOF || true
set datafile separator ","
set terminal png size 1000,420
set output "$dir/curve.png.tmp"
set multiplot layout 1,2 title "$env: held-out success (95% Wilson interval)"
set yrange [0:1]
set key left top
set grid
set xlabel "episodes collected"
set ylabel "held-out success"
plot "$curve" every ::1 using 3:5:6:7 with yerrorlines title "promoted/candidate" lw 2
set xlabel "wall-clock minutes"
plot "$curve" every ::1 using 2:5:6:7 with yerrorlines title "" lw 2
unset multiplot
EOF
  [ -s "$dir/curve.png.tmp" ] && mv -f "$dir/curve.png.tmp" "$dir/curve.png"
}

# 2. Rounds until the wall-clock budget is spent.
# A round starts only if one as long as the last would end within the budget.
# train_round: round $r's training to step $steps (with the live collector
# unless --offline); returns rl-train's exit code. A live collector that dies
# is restarted, at most 3 times; then the loop stops (see the header).
train_round() {
  local resume=() acting first now restarts=0 status ended collector_status
  [ -f "$dir/train/latest.ckpt" ] && resume=(--resume)
  local train=("$bin/rl-train" "$algo" --data "$dir/data" --out "$dir/train" --steps "$steps"
               --batch-size "$batch_size" --seed "$seed" "${resume[@]}" "${train_args[@]}")
  if [ "$offline" = 1 ]; then
    say "round $r: offline training to step $steps"
    "${train[@]}" >/dev/null 2>>"$log" &
    children=($!)
    wait "${children[0]}" || return $?
    return 0
  fi
  if [ -f "$dir/train/latest.ckpt" ] && [ "$algo" = sac ]; then
    acting=(--policy "$dir/train/latest.ckpt" --reload)  # SAC explores by sampling its own actions
  elif [ -f "$dir/train/latest.ckpt" ]; then
    acting=(--policy "$dir/train/latest.ckpt" --reload --exploration.epsilon 0.2
            --exploration.toward random)
  else
    acting=(--policy scripted --exploration.epsilon 0.3 --exploration.toward random)
  fi
  first=$(episodes_in "$dir/data") || exit $?
  say "round $r: training to step $steps on $first episodes plus the live stream"
  # The collector's shard paths stream into the trainer's stdin. The loop
  # holds the stream open too (fd 7), so that a collector's death is not the
  # end of the stream and a restarted collector continues it.
  fifo="$dir/.stream"
  rm -f "$fifo"; mkfifo "$fifo"
  exec 7<>"$fifo"
  "${train[@]}" --online - <"$fifo" >/dev/null 2>>"$log" &
  trainer=$!
  # Shards reach the trainer when they close: 50 episodes per shard keeps
  # the file count low for a fast collector; a paced one closes a shard
  # every 10 episodes, so that its data reaches the trainer within a round.
  local paced=() shard_episodes=50
  if awk -v p="$pace" 'BEGIN { exit !(p > 0) }'; then
    paced=(--pace.run "$dir/train" --pace.ratio "$pace")
    shard_episodes=10
  fi
  start_collector() {
    # The collector runs at a lower priority on one thread: on a small machine
    # the gradient steps, not the episodes, are what is scarce (a real robot
    # paces itself; --pace paces a simulated one).
    nice -n "$collector_nice" "$bin/rl-collect" "${collect_cell[@]}" --out "$dir/data" --threads 1 \
      "${acting[@]}" "${paced[@]}" --forever --first-episode "$1" --seed $((seed * 1000 + r)) \
      --dataset.episodes-per-shard "$shard_episodes" >&7 2>>"$log" &
    collector=$!
    children=("$trainer" "$collector")
  }
  start_collector "$first"
  while :; do
    ended=""
    status=0
    wait -n -p ended "$trainer" "$collector" || status=$?
    [ "$ended" = "$collector" ] || break  # the trainer is done (or failed)
    say "round $r: the live collector (rl-collect) exited with code $status mid-round"
    if [ "$restarts" -ge 3 ]; then
      say "round $r failed: the live collector died $((restarts + 1)) times; stopping the trainer"
      kill -TERM "$trainer" 2>/dev/null || true
      wait "$trainer" 2>/dev/null || true
      exec 7>&-; rm -f "$fifo"
      spent_s=$(elapsed_s); save_state
      [ "$status" -lt 128 ] && [ "$status" -gt 0 ] || status=4
      exit "$status"
    fi
    restarts=$((restarts + 1))
    # Its staged episodes become shards (streamed to the trainer) before the
    # count, so that the new collector's episode indices follow them.
    status=0
    "$bin/rl-data" recover "$dir/data" >&7 2>>"$log" || status=$?
    [ "$status" = 0 ] && now=$(episodes_in "$dir/data") || status=$?
    [ "$status" = 0 ] || { kill -TERM "$trainer"; wait; exit "$status"; }
    say "round $r: restarting the live collector ($restarts of 3) at episode $now"
    start_collector "$now"
  done
  kill -TERM "$collector" 2>/dev/null || true
  collector_status=0
  wait "$collector" 2>/dev/null || collector_status=$?
  # 130: stopped by the TERM; 143: TERM arrived before its handler was set.
  case "$collector_status" in 0|130|143) ;; *)
    say "round $r: the live collector exited with code $collector_status when stopped" ;;
  esac
  exec 7>&-
  rm -f "$fifo"
  return "$status"
}

# 2. Rounds until the wall-clock budget is spent.
# A round starts only if one as long as the last would end within the budget.
while [ $(( $(elapsed_s) + round_s )) -lt "$budget_s" ] && { [ "$rounds" = 0 ] || [ "$round" -lt "$rounds" ]; }; do
  r=$((round + 1))  # the round in progress; $round counts completed rounds
  steps=$((r * round_steps))
  status=0
  train_round || status=$?
  if [ "$status" = 3 ]; then
    # rl-train reads every episode's actions and rewards: it finds damage
    # that the loop's quick count (headers only) cannot see.
    say "round $r: rl-train found damaged data (exit 3); verifying every shard of $dir/data"
    if quarantine_invalid "$dir/data"; then
      say "round $r: retrying without the quarantined shards"
      status=0
      train_round || status=$?
    fi
  fi
  [ "$status" = 0 ] || { say "rl-train failed with exit code $status"; exit "$status"; }
  children=()

  # Evaluate the candidate on held-out objects (or unseen seeds), paired with the promoted policy.
  report="$dir/eval/round-$r.json"
  compare=()
  [ -f "$dir/promoted.ckpt" ] && compare=(--compare "$dir/promoted.ckpt")
  # --tensorboard: held-out success and its interval as scalars at the round's
  # training steps, beside rl-train's own in $dir/train/tensorboard/.
  "$bin/rl-eval" "${eval_cell[@]}" --policy "$dir/train/latest.ckpt" "${compare[@]}" \
    --episodes "$eval_episodes" --seed $((seed + 7)) --json "$report" \
    --tensorboard "$dir/tensorboard/loop" --tensorboard-step "$steps" 2>>"$log" &
  children=($!)
  wait "${children[0]}"
  children=()
  verdict=$(json_get "$report" 'r.get("comparison", {}).get("verdict", "first")')
  promoted=0
  if [ "$verdict" != worse ]; then
    promote "$dir/train/latest.ckpt" "$dir/promoted.ckpt" ||
      { say "error: cannot promote $dir/train/latest.ckpt (disk full?)"; exit 6; }
    promoted=1
  fi
  success=$(json_get "$report" 'r["a"]["success_rate"]')
  low=$(json_get "$report" 'r["a"]["wilson95"][0]')
  high=$(json_get "$report" 'r["a"]["wilson95"][1]')
  episodes=$(episodes_in "$dir/data") || exit $?
  spent_now=$(elapsed_s)
  minutes_now=$(awk -v s="$spent_now" 'BEGIN { printf "%.2f", s / 60 }')
  echo "$r,$minutes_now,$episodes,$steps,$success,$low,$high,$promoted,$verdict" >>"$curve"
  plot_curve
  say "round $r: held-out success $success [$low, $high] after $episodes episodes," \
      "$minutes_now min; verdict vs promoted: $verdict; promoted: $promoted"
  round_s=$((spent_now - spent_s))
  round=$r; spent_s=$spent_now; start_s=$(date +%s); save_state
done

# 3. Final evaluation of the promoted policy.
# Its success and interval go to TensorBoard as a run of their own
# ($dir/tensorboard/final), at the training steps of the last round.
final="$dir/final.json"
"$bin/rl-eval" "${eval_cell[@]}" --policy "$dir/promoted.ckpt" \
  --episodes "$final_episodes" --seed $((seed + 99)) --json "$final" \
  --tensorboard "$dir/tensorboard/final" --tensorboard-step $((round * round_steps)) 2>>"$log" &
children=($!)
wait "${children[0]}"
children=()
say "final: held-out success $(json_get "$final" 'r["a"]["success_rate"]')" \
    "$(json_get "$final" 'r["a"]["wilson95"]') over $final_episodes episodes"
echo "$final"
