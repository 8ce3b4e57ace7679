#!/usr/bin/env bash
#SBATCH --job-name=rl-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#
# Data-parallel rl-train under Slurm: one rank per Slurm task.
#
#   sbatch [--nodes N --ntasks-per-node K] scripts/slurm_train.sh sac \
#       --data /shared/data --online /shared/data --out /shared/train --steps 1000000
#
# Submitted with sbatch, the script starts itself once per task with srun.
# Each task maps Slurm's variables to the ones torchrun sets, then execs
# rl-train with the arguments given (docs/distributed.md):
#   MASTER_ADDR       first host of $SLURM_JOB_NODELIST (scontrol show hostnames), unless set
#   MASTER_PORT       29500 + $SLURM_JOB_ID % 1000, unless set
#   RANK              $SLURM_PROCID
#   WORLD_SIZE        $SLURM_NTASKS
#   LOCAL_RANK        $SLURM_LOCALID
#   LOCAL_WORLD_SIZE  $SLURM_NTASKS_PER_NODE, else the first count of $SLURM_TASKS_PER_NODE
# --print-env (first argument) prints the mapping instead of running.
# $PERPETUA_BIN names the folder of rl-train (default: build/bin beside this
# script's checkout, else rl-train on PATH).
set -euo pipefail
prog=slurm_train.sh
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '/^# Data-parallel/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//;s/^#$//'
  exit 0
fi
[ -n "${SLURM_JOB_ID:-}" ] || die_usage "run it with sbatch (or srun inside an allocation); \$SLURM_JOB_ID is not set"

# The batch step: one task per rank, each running this script again.
if [ -z "${PERPETUA_SLURM_TASK:-}" ] && [ "${1:-}" != "--print-env" ]; then
  export PERPETUA_SLURM_TASK=1
  exec srun --kill-on-bad-exit=1 "${BASH_SOURCE[0]}" "$@"
fi

for var in SLURM_PROCID SLURM_NTASKS SLURM_LOCALID; do
  [ -n "${!var:-}" ] || die_usage "\$$var is not set (is this a task started by srun?)"
done
if [ -z "${MASTER_ADDR:-}" ]; then
  [ -n "${SLURM_JOB_NODELIST:-}" ] || die_usage "\$SLURM_JOB_NODELIST is not set and neither is \$MASTER_ADDR"
  MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
  [ -n "$MASTER_ADDR" ] || die_usage "scontrol show hostnames '$SLURM_JOB_NODELIST' named no host"
fi
export MASTER_ADDR
export MASTER_PORT="${MASTER_PORT:-$((29500 + SLURM_JOB_ID % 1000))}"
export RANK="$SLURM_PROCID" WORLD_SIZE="$SLURM_NTASKS" LOCAL_RANK="$SLURM_LOCALID"
per_node="${SLURM_NTASKS_PER_NODE:-${SLURM_TASKS_PER_NODE:-1}}"
export LOCAL_WORLD_SIZE="${per_node%%[(,]*}"

if [ "${1:-}" = "--print-env" ]; then
  for var in MASTER_ADDR MASTER_PORT RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE; do echo "$var=${!var}"; done
  exit 0
fi
bin="$(tools_dir "$(dirname "$here")")"
exec "$bin/rl-train" "$@"
