#!/usr/bin/env bash
# The perpetual learning loop on a simulated cell (or a robot), composed from
# the rl-* tools with shell pipelines. The README's main command.
#
#   scripts/loop.sh [--dir runs/loop] [--minutes 60] [--rounds 0] [--seed 1] [options]
#   scripts/loop.sh --env push                 (SAC, the default learner, on push)
#   scripts/loop.sh --config push.yaml --minutes 30   (flags override the file)
#
# Options: --env CELL (grasp | push | door | pendulum | a robot URL, default
# grasp; grasp collects on --objects train and evaluates on held-out
# objects, the other cells on unseen episode seeds), --algo sac|q (the
# rl-train verb, default sac: on grasp it learns faster than q, docs/train.md;
# on grasp sac also gets --sac.initial-alpha=0.1, --sac.policy-average=0.0005,
# --sac.network.discrete-terminate (unless a resumed loop's trainer ran
# without it) and --threads=1 unless a --train-arg sets them),
# --bootstrap-policy P (the heuristic that acts in
# the bootstrap and until the first checkpoint: scripted, the simulated cell's
# own and the default there; random, the default on a robot, which has no
# scripted policy; or a checkpoint file, e.g. a policy trained in simulation;
# docs/robot.md), --round-steps N (gradient steps per round: the trainer
# writes a checkpoint every N steps and each is evaluated), --eval-episodes N
# (per round), --final-episodes N, --bootstrap-scripted N (episodes of the
# heuristic), --bootstrap-random N, --bootstrap-noise S (the scripted bootstrap's noise,
# rl-collect --exploration.scripted-noise, default 0.2), --scripted-episodes F
# (q: the share of the live collector's episodes that the noisy scripted
# heuristic acts instead of the checkpoint, rl-collect
# --exploration.scripted-episodes; default 0: measured no better at 20
# minutes, docs/train.md), --batch-size N, --collector-nice N (priority of the
# live collector, default 5), --eval-nice N (priority of the evaluations
# during training, default 10), --online-window N (the trainer's online
# buffer: the newest N transitions, default 20000; rl-train --online-window),
# --pace R (the live collector takes at most R
# environment steps per gradient step, rl-collect --pace.*; 0 = unpaced;
# default 1 for sac, as SAC is usually run, and 0 for q, whose collectors
# ran asynchronously in QT-Opt), --rounds N (stop after N rounds; 0 = only the
# time budget), --offline, --train-arg ARG (passed to rl-train, repeatable:
# --network.* for q, --sac.* for sac; a flag the loop sets itself, such as
# --steps, --batch-size, --checkpoint-every or --online-window, is refused,
# exit 2), --collect-arg ARG (passed to every rl-collect the loop runs, the
# bootstrap's and the live collector's, repeatable: e.g. --exploration.*
# flags; one the loop sets itself, such as --out, --policy or --seed, is
# refused, exit 2), --cell-arg ARG (passed to rl-collect and rl-eval wherever they
# run the cell, repeatable: --cell.* and
# --robot.* flags, e.g. --cell.image-size=96; SAC on grasp adds the wrist
# camera, --cell.wrist-camera, unless one sets it either way or the run
# resumes one that had none), --observe-time 0|1 (show the
# policy the clock: rl-collect/rl-eval --cell.observe-time, and rl-train
# --dataset.timeout-terminal; default 1 on grasp, where it was measured to
# help, 0 elsewhere; docs/train.md; a loop resumes only with the setting it
# started with), --goal F (the held-out success the run aims at, drawn on
# DIR/curve.png as a dashed line; default 0.8, 0 = none), --config FILE (the same options as
# "key: value" lines, key without the dashes, e.g. "env: push" or
# "train-arg: --sac.critic-lr=3e-4"; "#" starts a comment).
#
# What it does, in DIR:
#   1. bootstrap   rl-collect with the heuristic (the noisy scripted
#                  policy, epsilon 0.2 toward random) and the random policy
#                                                           -> DIR/data/
#   2. training    ONE trainer and ONE live collector for the whole run:
#                    rl-collect --policy DIR/train/latest.ckpt --reload --forever
#                      | rl-train ALGO --data DIR/data --online - --resume
#                          --checkpoint-every ROUND_STEPS --online-window N
#                  (the collector acts with the heuristic until the
#                  first checkpoint exists). The trainer samples half of each
#                  batch from the newest N streamed transitions and half from
#                  everything in DIR/data (new shards join it as they land).
#                  A round is ROUND_STEPS gradient steps: as each round's
#                  checkpoint DIR/train/ckpt-<step>.ckpt appears, rl-eval
#                  (at --eval-nice, on one thread) evaluates it on held-out
#                  objects, paired with the promoted one, while training goes
#                  on; promotion to DIR/promoted.ckpt unless the paired test
#                  says it is worse; a row in DIR/curve.csv and the plot
#                  DIR/curve.png. An evaluation that falls behind takes the
#                  newest checkpoint and skips the stale ones (logged). When
#                  the budget is spent (or --rounds are evaluated) the
#                  collector and the trainer are stopped (SIGTERM: they finish
#                  cleanly).
#   3. at the end  rl-eval of the promoted policy on --final-episodes held-out
#                  episodes -> DIR/final.json (its path is printed on stdout)
#                  and the run page DIR/report/index.html (the curve, the
#                  table per object family, how the failures failed, videos,
#                  config, provenance), the failures' reasons also logged;
#                  grasp: also on as many episodes of the training objects
#                  -> DIR/final-train.json, logged side by side (the
#                  generalisation gap).
# With --offline the trainer trains on the bootstrap data only (no collector):
# the baseline that shows what perpetual collection adds.
#
# Stopping and resuming: Ctrl-C (or SIGTERM) stops the tools cleanly; running
# the same command again resumes (bootstrap counted from the data, training
# from DIR/train/latest.ckpt, the wall-clock budget from DIR/loop.state, a
# file of round=, spent_s= and round_s= lines holding whole numbers: the last
# round evaluated, the seconds spent, the seconds between the last two
# evaluations). A fresh run evaluates at least one round whatever the budget.
# Damage: episodes a killed collector left staged are recovered
# (rl-data recover) and shards that do not verify are moved to
# DIR/data/.quarantine (rl-data quarantine) before episodes are counted; a
# trainer that finds damage (exit 3) is restarted after the quarantine. A
# live collector that dies is restarted (at most 3 times a round); then the
# loop fails. Promotion is atomic and durable (a crash leaves the old
# promoted.ckpt or the new one).
# Exit codes: 0 done, 2 usage, 3 a damaged loop.state or dataset, 8 another
# loop runs in DIR, 130 interrupted, otherwise the failing tool's code (4
# for a collector that keeps dying by a signal).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

dir=runs/loop
minutes=60
rounds=0
seed=1
round_steps=1500
eval_episodes=100
final_episodes=200
bootstrap_scripted=300
bootstrap_random=100
bootstrap_noise=0.2
bootstrap_policy=  # scripted on a simulated cell, random on a robot
scripted_episodes=0
objects=train
offline=0
batch_size=64
collector_nice=5
eval_nice=10
online_window=20000
goal=0.8
algo=  # the learner of DIR/train/latest.ckpt when resuming, else sac
env=grasp
pace=
train_args=()
cell_args=()
collect_args=()
observe_time=  # 1 on grasp, 0 elsewhere (observe_time_default)

prog=loop
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
bin="$(tools_dir "$root")"
usage() { print_header "${BASH_SOURCE[0]}"; }

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
    --bootstrap-policy|--bootstrap-random|--bootstrap-noise|--scripted-episodes|--batch-size|--collector-nice|--eval-nice|--online-window|--algo|--env|--pace|--config|--train-arg|--collect-arg|--cell-arg|--observe-time|--goal)
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
    --bootstrap-policy) bootstrap_policy="$2"; shift 2 ;;
    --bootstrap-noise) bootstrap_noise="$2"; shift 2 ;;
    --scripted-episodes) scripted_episodes="$2"; shift 2 ;;
    --batch-size) batch_size="$2"; shift 2 ;;
    --collector-nice) collector_nice="$2"; shift 2 ;;
    --eval-nice) eval_nice="$2"; shift 2 ;;
    --online-window) online_window="$2"; shift 2 ;;
    --offline) offline=1; shift ;;
    --algo) algo="$2"; shift 2 ;;
    --env) env="$2"; shift 2 ;;
    --pace) pace="$2"; shift 2 ;;
    --config) shift 2 ;;  # read above
    --train-arg) train_args+=("$2"); shift 2 ;;
    --collect-arg) collect_args+=("$2"); shift 2 ;;
    --cell-arg) cell_args+=("$2"); shift 2 ;;
    --observe-time) observe_time="$2"; shift 2 ;;
    --goal) goal="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
[[ "$minutes" =~ ^[0-9]{1,9}(\.[0-9]+)?$ ]] || die_usage "--minutes: '$minutes' is not a number"
[ -z "$algo" ] || require_algo --algo "$algo"
[ -z "$pace" ] || [[ "$pace" =~ ^[0-9]{1,6}(\.[0-9]+)?$ ]] || die_usage "--pace: '$pace' is not a number >= 0"
require_cell --env "$env"
clock_flags "$env" "$observe_time"
robot=0
case "$env" in tcp://*|unix://*) robot=1 ;; esac
[ -n "$bootstrap_policy" ] || { [ "$robot" = 1 ] && bootstrap_policy=random || bootstrap_policy=scripted; }
case "$bootstrap_policy" in
  scripted) [ "$robot" = 0 ] || die_usage "--bootstrap-policy: a robot has no scripted policy (only simulated cells do); give random or a checkpoint file" ;;
  random) ;;
  *) [ -f "$bootstrap_policy" ] || die_usage "--bootstrap-policy: '$bootstrap_policy' is not scripted, random or a checkpoint file"
     bootstrap_policy="$(cd "$(dirname -- "$bootstrap_policy")" && pwd)/$(basename -- "$bootstrap_policy")" ;;
esac
for key in out policy reload seed episodes forever first-episode threads; do
  ! has_train_arg "$key" "${collect_args[@]}" || die_usage "--collect-arg --$key: $prog sets --$key itself"
done
# The bootstrap heuristic (on a real robot: the one its user provides, as a
# checkpoint, or none): the cell's scripted policy with aim and action noise,
# epsilon-greedy toward random actions that rarely terminate. On grasp it
# succeeds on ~40% of episodes (docs/train.md), so the data holds grasps that
# close just off the object and terminations away from it, not only perfect
# grasps.
bootstrap_acting=(--policy "$bootstrap_policy" --exploration.epsilon 0.2 --exploration.toward random)
[ "$bootstrap_policy" != scripted ] || bootstrap_acting+=(--exploration.scripted-noise "$bootstrap_noise")
require_int --rounds "$rounds"
require_int --seed "$seed"
require_int --round-steps "$round_steps"
require_int --eval-episodes "$eval_episodes"
require_int --final-episodes "$final_episodes"
require_int --bootstrap-scripted "$bootstrap_scripted"
require_int --bootstrap-random "$bootstrap_random"
[[ "$bootstrap_noise" =~ ^[0-9]{1,3}(\.[0-9]+)?$ ]] || die_usage "--bootstrap-noise: '$bootstrap_noise' is not a number >= 0"
require_fraction --scripted-episodes "$scripted_episodes"
[ "$robot" = 0 ] || [[ "$scripted_episodes" =~ ^0*\.?0*$ ]] ||
  die_usage "--scripted-episodes: a robot has no scripted policy (only simulated cells do)"
require_int --batch-size "$batch_size"
require_fraction --goal "$goal"
require_int --collector-nice "$collector_nice"
require_int --eval-nice "$eval_nice"
require_int --online-window "$online_window"
[ "$round_steps" -ge 1 ] || die_usage "--round-steps: must be >= 1"
reject_owned_train_args "data=- out=- steps=--minutes/--rounds batch-size=--batch-size seed=--seed
  checkpoint-every=--round-steps keep-checkpoints=- resume=- init=- online=- online-window=--online-window" \
  "${train_args[@]}"

# Build (a no-op when up to date) unless pointed at prebuilt tools.
[ -n "${PERPETUA_BIN:-}" ] || [ ! -f "$root/scripts/setup.sh" ] || "$root/scripts/setup.sh"
# The learner: --algo, else the one a resumed loop's trainer ran, else sac.
[ -n "$algo" ] || [ ! -f "$dir/train/latest.ckpt" ] || algo="$(checkpoint_algo "$dir/train/latest.ckpt")"
[ -n "$algo" ] || algo=sac
[ -n "$pace" ] || { [ "$algo" = sac ] && pace=1 || pace=0; }
learner_flags "$algo" "$env" "$((1 - offline))" "$dir/train/latest.ckpt" "${train_args[@]}"
# The cell for collection and for evaluation: grasp collects on the training
# objects and is evaluated on held-out ones; other cells are evaluated on
# episode seeds that collection never uses.
collect_cell=(--env "$env")
read -r -a eval_cell <<<"$(eval_cell_flags "$env")"
# Grasp collects with every object's colour drawn over all hues (domain
# randomisation, --cell.randomize.object-colors): held-out objects then differ
# from training ones in shape, size, mass and friction, not in an unseen colour.
[ "$env" != grasp ] || collect_cell+=(--objects "$objects" --cell.randomize.object-colors)
# Grasp with SAC also sees through a camera on the gripper (camera_flags,
# --cell.wrist-camera, docs/sim.md): the bootstrap, the collector and every
# evaluation render it, so all the run's data has it.
# --cell-arg --no-cell.wrist-camera turns it off.
camera_flags "$algo" "$env" "$dir/train/latest.ckpt" "${cell_args[@]}"
cell_args=("${camera_cell[@]}" "${cell_args[@]}")
# The clock in the observation (--cell.observe-time), and the time limit then
# a true end of the task (--dataset.timeout-terminal): docs/train.md.
cell_args=("${clock_cell[@]}" "${cell_args[@]}")
collect_cell+=("${cell_args[@]}")
collect_cell+=("${collect_args[@]}")
eval_cell+=("${cell_args[@]}")
mkdir -p "$dir"/{data,train,eval,logs}
log="$dir/logs/loop.log"
say() { echo "loop: $*" | tee -a "$log" >&2; }

exec 7>&-  # fd 7 is the live stream (below), open only while the collector runs
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
    if [ "$bootstrap_policy" = scripted ]; then
      say "bootstrap: $((bootstrap_scripted - have)) scripted episodes (noise $bootstrap_noise, epsilon 0.2 toward random)"
    else
      say "bootstrap: $((bootstrap_scripted - have)) episodes of $bootstrap_policy (epsilon 0.2 toward random)"
    fi
    run_collect "${bootstrap_acting[@]}" --episodes $((bootstrap_scripted - have)) --first-episode "$have" --seed "$seed"
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
  local goal_plot=""  # the goal as a dashed line (--goal; none for 0)
  awk -v g="$goal" 'BEGIN { exit !(g > 0) }' &&
    goal_plot=", $goal with lines dt 2 lw 2 lc rgb \"#c0392b\" title \"goal ($(awk -v g="$goal" 'BEGIN { printf "%g", g * 100 }')%)\""
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
plot "$curve" every ::1 using 3:5:6:7 with yerrorlines title "each round's checkpoint" lw 2$goal_plot
set xlabel "wall-clock minutes"
plot "$curve" every ::1 using 2:5:6:7 with yerrorlines title "" lw 2$goal_plot
unset multiplot
EOF
  [ -s "$dir/curve.png.tmp" ] && mv -f "$dir/curve.png.tmp" "$dir/curve.png"
}

# 2. One trainer and one live collector for the whole run; the loop evaluates
# each round's checkpoint (DIR/train/ckpt-<step>.ckpt, step a multiple of
# --round-steps) as it appears, at low priority, while training goes on.
target=$((rounds > 0 ? rounds * round_steps : 1000000000))  # the budget stops it first
ckpt_of() { printf '%s/train/ckpt-%08d.ckpt' "$dir" "$1"; }
trainer="" collector="" evaluator="" acting_mode="" restarts=0 quarantines=0
fifo="$dir/.stream"
set_children() {  # what an interrupt stops
  children=()
  local pid
  for pid in "$trainer" "$collector" "$evaluator"; do [ -z "$pid" ] || children+=("$pid"); done
}

start_trainer() {
  local resume=()
  [ -f "$dir/train/latest.ckpt" ] && resume=(--resume)
  # --checkpoint-every: one numbered checkpoint per round (the loop evaluates
  # them); --keep-checkpoints: room for an evaluation that falls behind.
  local train=("$bin/rl-train" "$algo" --data "$dir/data" --out "$dir/train" --steps "$target"
               --batch-size "$batch_size" --seed "$seed" --checkpoint-every "$round_steps"
               --keep-checkpoints 4 "${resume[@]}" "${clock_train[@]}" "${learner_train[@]}" "${train_args[@]}")
  if [ "$offline" = 1 ]; then
    say "round $((round + 1)): training to step $target offline (one trainer for the run, no collector)"
    "${train[@]}" >/dev/null 2>>"$log" &
  else
    "${train[@]}" --online - --online-window "$online_window" <"$fifo" >/dev/null 2>>"$log" &
  fi
  trainer=$!
  say "rl-train started (pid $trainer) to step $target"
  set_children
}

# The collector acts with the newest checkpoint once there is one (hot
# reload), before that with the bootstrap heuristic.
collector_acting() {
  if [ -f "$dir/train/latest.ckpt" ] && [ "$algo" = sac ]; then
    acting=(--policy "$dir/train/latest.ckpt" --reload)  # SAC explores by sampling its own actions
    acting_mode=learned
  elif [ -f "$dir/train/latest.ckpt" ]; then
    acting=(--policy "$dir/train/latest.ckpt" --reload --exploration.epsilon 0.2
            --exploration.toward random --exploration.scripted-episodes "$scripted_episodes"
            --exploration.scripted-noise "$bootstrap_noise")
    acting_mode=learned
  else
    acting=("${bootstrap_acting[@]}")
    acting_mode=scripted
  fi
}
# Shards reach the trainer when they close: 50 episodes per shard keeps the
# file count low for a fast collector; a paced one closes a shard every 10
# episodes, so that its data reaches the trainer within a round.
paced=() shard_episodes=50
if awk -v p="$pace" 'BEGIN { exit !(p > 0) }'; then
  paced=(--pace.run "$dir/train" --pace.ratio "$pace")
  shard_episodes=10
fi
start_collector() {  # start_collector FIRST_EPISODE
  # The collector runs at a lower priority on one thread: on a small machine
  # the gradient steps, not the episodes, are what is scarce (a real robot
  # paces itself; --pace paces a simulated one).
  local acting
  collector_acting
  nice -n "$collector_nice" "$bin/rl-collect" "${collect_cell[@]}" --out "$dir/data" --threads 1 \
    "${acting[@]}" "${paced[@]}" --forever --first-episode "$1" --seed $((seed * 1000 + round + 1)) \
    --dataset.episodes-per-shard "$shard_episodes" >&7 2>>"$log" &
  collector=$!
  set_children
}
# stop PID: SIGTERM (the tools finish cleanly) and wait; prints nothing, returns its code.
stop() {
  local status=0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || status=$?
  return "$status"
}
stop_collector() {
  [ -n "$collector" ] || return 0
  local status=0
  stop "$collector" || status=$?
  # 130: stopped by the TERM; 143: TERM arrived before its handler was set.
  case "$status" in 0|130|143) ;; *) say "the live collector exited with code $status when stopped" ;; esac
  collector=""
  set_children
}
# Its staged episodes become shards (streamed to the trainer) before the
# count, so that the new collector's episode indices follow them.
restart_collector() {
  local status=0 now
  "$bin/rl-data" recover "$dir/data" >&7 2>>"$log" || status=$?
  [ "$status" = 0 ] && now=$(episodes_in "$dir/data") || status=$?
  [ "$status" = 0 ] || { stop_all; exit "$status"; }
  [ -z "${1:-}" ] || say "round $((round + 1)): restarting the live collector ($1 of 3) at episode $now"
  start_collector "$now"
}
stop_all() {
  local pid
  for pid in "$collector" "$evaluator" "$trainer"; do [ -z "$pid" ] || stop "$pid" || true; done
  collector="" evaluator="" trainer=""
  set_children
}

# The newest round checkpoint not yet evaluated (a step > the last round's),
# as "STEP PATH"; nothing if none.
newest_round_checkpoint() {
  local path name step best=-1
  for path in "$dir"/train/ckpt-*.ckpt; do
    [ -e "$path" ] || continue
    name=${path##*/ckpt-}; name=${name%.ckpt}
    [[ "$name" =~ ^[0-9]+$ ]] || continue
    step=$((10#$name))
    [ $((step % round_steps)) = 0 ] && [ "$step" -gt $((round * round_steps)) ] && [ "$step" -gt "$best" ] &&
      best=$step
  done
  [ "$best" -lt 0 ] || echo "$best $(ckpt_of "$best")"
}

# start_eval STEP PATH: rl-eval of the checkpoint (a hard link of it, which
# the trainer's pruning cannot take away) in the background at low priority,
# paired with the promoted one.
eval_step="" eval_ckpt="$dir/eval/candidate.ckpt" interval_start=$(elapsed_s) paused_for_eval=0
start_eval() {
  local skipped=$(( $1 / round_steps - round - 1 ))
  [ "$skipped" -le 0 ] || say "evaluation fell behind: skipping $skipped stale round checkpoint(s), evaluating step $1"
  ln -f "$2" "$eval_ckpt" 2>/dev/null || cp -f "$2" "$eval_ckpt" || return 0  # pruned meanwhile: the next poll
  eval_step=$1
  # A robot serves one session at a time: the live collector gives it to the
  # evaluation and gets it back when the evaluation ends (finish_eval).
  if [ "$robot" = 1 ] && [ -n "$collector" ]; then
    say "round $((eval_step / round_steps)): the robot serves one session: pausing the live collector for the evaluation"
    stop_collector
    paused_for_eval=1
  fi
  say "round $((eval_step / round_steps)): evaluating $2 (the trainer is at step $(cat "$dir/train/trainer.step" 2>/dev/null | sed 's/^0*\([0-9]\)/\1/'))"
  local compare=()
  [ -f "$dir/promoted.ckpt" ] && compare=(--compare "$dir/promoted.ckpt")
  # --tensorboard: held-out success and its interval as scalars at the round's
  # training steps, beside rl-train's own in $dir/train/tensorboard/.
  nice -n "$eval_nice" "$bin/rl-eval" "${eval_cell[@]}" --policy "$eval_ckpt" "${compare[@]}" --threads 1 \
    --episodes "$eval_episodes" --seed $((seed + 7)) --json "$dir/eval/round-$((eval_step / round_steps)).json" \
    --tensorboard "$dir/tensorboard/loop" --tensorboard-step "$eval_step" 2>>"$log" &
  evaluator=$!
  set_children
}
# finish_eval STATUS: promotion, the curve row, the state.
finish_eval() {
  local r=$((eval_step / round_steps)) report verdict promoted=0 success low high episodes spent_now minutes_now
  evaluator=""
  set_children
  [ "$1" = 0 ] || { say "rl-eval failed with exit code $1"; stop_all; spent_s=$(elapsed_s); save_state; exit "$1"; }
  report="$dir/eval/round-$r.json"
  verdict=$(json_get "$report" 'r.get("comparison", {}).get("verdict", "first")')
  if [ "$verdict" != worse ]; then
    promote "$eval_ckpt" "$dir/promoted.ckpt" ||
      { say "error: cannot promote $eval_ckpt (disk full?)"; stop_all; exit 6; }
    promoted=1
  fi
  success=$(json_get "$report" 'r["a"]["success_rate"]')
  low=$(json_get "$report" 'r["a"]["wilson95"][0]')
  high=$(json_get "$report" 'r["a"]["wilson95"][1]')
  episodes=$(episodes_in "$dir/data") || { local status=$?; stop_all; exit "$status"; }
  spent_now=$(elapsed_s)
  minutes_now=$(awk -v s="$spent_now" 'BEGIN { printf "%.2f", s / 60 }')
  echo "$r,$minutes_now,$episodes,$eval_step,$success,$low,$high,$promoted,$verdict" >>"$curve"
  plot_curve
  say "round $r: held-out success $success [$low, $high] after $episodes episodes," \
      "$minutes_now min; verdict vs promoted: $verdict; promoted: $promoted"
  round_s=$((spent_now - interval_start)); interval_start=$spent_now
  round=$r; restarts=0
  spent_s=$spent_now; start_s=$(date +%s); save_state
  if [ "$paused_for_eval" = 1 ]; then  # the robot back to the collector, unless the run is over
    paused_for_eval=0
    rounds_done || budget_spent || restart_collector
  fi
}

# Done when the rounds are evaluated, or when the budget is spent once a
# first round has been (a fresh run always evaluates one).
budget_spent() { [ "$round" -gt 0 ] && [ "$(elapsed_s)" -ge "$budget_s" ]; }
rounds_done() { [ "$rounds" != 0 ] && [ "$round" -ge "$rounds" ]; }

if ! budget_spent && ! rounds_done; then
  if [ "$offline" != 1 ]; then
    # The collector's shard paths stream into the trainer's stdin. The loop
    # holds the stream open too (fd 7), so that a collector's death is not the
    # end of the stream and a restarted collector continues it.
    rm -f "$fifo"; mkfifo "$fifo"
    exec 7<>"$fifo"
    first=$(episodes_in "$dir/data") || exit $?
    say "round $((round + 1)): training to step $target on $first episodes plus the live stream" \
        "(one trainer and one collector for the run)"
  fi
  start_trainer
  [ "$offline" = 1 ] || start_collector "$first"
  trainer_done=0
  while :; do
    # The trainer: done (its target reached), damaged data, or failed.
    if [ -n "$trainer" ] && ! kill -0 "$trainer" 2>/dev/null; then
      status=0
      wait "$trainer" || status=$?
      trainer=""
      set_children
      if [ "$status" = 3 ] && [ "$quarantines" -lt 3 ]; then
        # rl-train reads every episode's actions and rewards: it finds damage
        # that the loop's quick count (headers only) cannot see.
        say "round $((round + 1)): rl-train found damaged data (exit 3); verifying every shard of $dir/data"
        quarantines=$((quarantines + 1))
        if quarantine_invalid "$dir/data"; then
          say "round $((round + 1)): retrying without the quarantined shards"
          start_trainer
          continue
        fi
      fi
      if [ "$status" != 0 ]; then
        say "rl-train failed with exit code $status"
        stop_all; spent_s=$(elapsed_s); save_state
        exit "$status"
      fi
      trainer_done=1
    fi
    # The collector: restarted when it dies (at most 3 times a round); it
    # switches to the learned policy once the first checkpoint exists.
    if [ -n "$collector" ] && ! kill -0 "$collector" 2>/dev/null; then
      status=0
      wait "$collector" || status=$?
      collector=""
      set_children
      say "round $((round + 1)): the live collector (rl-collect) exited with code $status mid-round"
      if [ "$restarts" -ge 3 ]; then
        say "round $((round + 1)) failed: the live collector died $((restarts + 1)) times; stopping the trainer"
        stop_all
        exec 7>&-; rm -f "$fifo"
        spent_s=$(elapsed_s); save_state
        [ "$status" -lt 128 ] && [ "$status" -gt 0 ] || status=4
        exit "$status"
      fi
      restarts=$((restarts + 1))
      restart_collector "$restarts"
    elif [ -n "$collector" ] && [ "$acting_mode" = scripted ] && [ -f "$dir/train/latest.ckpt" ]; then
      say "the first checkpoint exists: the live collector now acts with $dir/train/latest.ckpt"
      stop_collector
      restart_collector
    fi
    # The evaluation: finished -> its row; else the newest round checkpoint.
    if [ -n "$evaluator" ] && ! kill -0 "$evaluator" 2>/dev/null; then
      status=0
      wait "$evaluator" || status=$?
      finish_eval "$status"
    fi
    if [ -z "$evaluator" ] && ! rounds_done && ! budget_spent; then
      next=$(newest_round_checkpoint)
      if [ -n "$next" ]; then
        start_eval $next
        continue
      fi
    fi
    # The end: the rounds evaluated, the budget spent, or the trainer done
    # with nothing left to evaluate.
    if [ -z "$evaluator" ] && { rounds_done || budget_spent || [ "$trainer_done" = 1 ]; }; then
      break
    fi
    sleep 1
  done
  stop_collector
  [ -z "$trainer" ] || { status=0; stop "$trainer" || status=$?
    case "$status" in 0|130|143) ;; *) say "rl-train exited with code $status when stopped" ;; esac; }
  trainer=""
  set_children
  exec 7>&-
  rm -f "$fifo"
  spent_s=$(elapsed_s); start_s=$(date +%s); save_state
fi
children=()

# 3. Final evaluation of the promoted policy.
# Its success and interval go to TensorBoard as a run of their own
# ($dir/tensorboard/final), at the training steps of the last round.
# The run page (DIR/report/index.html: curve, table, videos, config, provenance).
final="$dir/final.json"
page=(--report "$dir/report" --report-title "$env loop, $(basename "$dir"): the promoted policy"
      --video-first 2 --video-successes 4 --video-failures 4)
[ ! -f "$dir/curve.csv" ] || page+=(--report-curve "$dir/curve.csv")
"$bin/rl-eval" "${eval_cell[@]}" --policy "$dir/promoted.ckpt" \
  --episodes "$final_episodes" --seed $((seed + 99)) --json "$final" "${page[@]}" \
  --tensorboard "$dir/tensorboard/final" --tensorboard-step $((round * round_steps)) 2>>"$log" &
children=($!)
wait "${children[0]}"
children=()
say "final: held-out success $(json_get "$final" 'r["a"]["success_rate"]')" \
    "$(json_get "$final" 'r["a"]["wilson95"]') over $final_episodes episodes"
# How they failed (rl-eval's reasons; docs/eval.md): where the policy loses.
say "final: held-out failures: $(json_get "$final" \
  '", ".join(f"{n} {k}" for k, n in sorted(r["a"].get("failures", {}).items())) or "none"')"
if [ "$env" = grasp ]; then
  # The same checkpoint on the training objects (their own colours, like the
  # held-out ones): the gap between the two is what generalisation costs.
  "$bin/rl-eval" --env grasp --objects train "${cell_args[@]}" --policy "$dir/promoted.ckpt" \
    --episodes "$final_episodes" --seed $((seed + 99)) --json "$dir/final-train.json" 2>>"$log" &
  children=($!)
  wait "${children[0]}"
  children=()
  say "final: training-object success $(json_get "$dir/final-train.json" 'r["a"]["success_rate"]')" \
      "$(json_get "$dir/final-train.json" 'r["a"]["wilson95"]') vs held-out" \
      "$(json_get "$final" 'r["a"]["success_rate"]') (same checkpoint, $final_episodes episodes each)"
fi
echo "$final"
