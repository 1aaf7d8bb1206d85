#!/usr/bin/env bash
# Data-parallel pre-training over MPI on this machine: steps/s of the tiny recipe in one process and under
# `mpirun -np 2`, and the cost of one all-reduce of MERT-95M's gradients (95.5M float32) over 2 local ranks.
# usage: bench/mpi.sh [--steps N]   (needs Open MPI: culturemert setup mpi installs it as root)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
steps=200
while [ $# -gt 0 ]; do case "$1" in --steps) steps=$2; shift 2;; *) echo "unknown option $1" >&2; exit 2;; esac; done
cli=$("$root/scripts/bootstrap.sh") && dotnet "$cli" setup mpi >&2
dotnet build "$here/CultureMert.Bench/CultureMert.Bench.csproj" -c Release --nologo -v q -o "$root/artifacts/bench" >&2
mpirun=(mpirun --oversubscribe); [ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# The shipped tiny recipe with its 8 crops per step as 2 micro-batches of 4 (grad_accumulation must be a multiple of the ranks).
sed 's/"batch_size": 8,/"batch_size": 4, "grad_accumulation": 2,/' "$root/recipes/tiny-two-stage.json" > "$work/tiny-a2.json"
grep -q '"grad_accumulation": 2' "$work/tiny-a2.json"
summary() { # summary NAME RUN_DIR WALL_S: steps/s from the median ms_per_step after 20 warm-up steps, and over the whole run
  local m
  m=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="ms_per_step") c=i; next} NR>21{print $c}' "$2/log.csv" | sort -g |
      awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
  awk -v name="$1" -v m="$m" -v wall="$3" -v steps="$steps" 'BEGIN{printf "{\"run\": \"%s\", \"steps\": %d, \"median_ms_per_step\": %.1f, \"steps_per_s\": %.2f, \"wall_s\": %.1f, \"steps_per_s_wall\": %.2f}\n", name, steps, m, 1000/m, wall, steps/wall}'
}
run() { # run NAME COMMAND...
  local name=$1; shift; local t0 t1; t0=$(date +%s.%N)
  "$@" pretrain --recipe "$work/tiny-a2.json" --out "$work/$name" --max-steps "$steps" < /dev/null > "$work/$name.out" 2>&1 || { cat "$work/$name.out" >&2; exit 1; }
  t1=$(date +%s.%N); summary "$name" "$work/$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')"
}
run np1 dotnet "$cli"
run np2 "${mpirun[@]}" -np 2 dotnet "$cli"
"${mpirun[@]}" -np 2 dotnet "$root/artifacts/bench/CultureMert.Bench.dll" allreduce --floats 95500000 --repeats 5 < /dev/null
