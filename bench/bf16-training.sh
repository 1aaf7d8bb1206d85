#!/usr/bin/env bash
# Does bf16 mixed precision train as well as fp32? The tiny recipe's first stage (pre-training from scratch on its
# synthesised Western clips: batch 8 × 2-s crops, k-means targets) for STEPS steps, in fp32 and in bf16, with the same
# seeds (the same initial weights, data, noise and masks per seed): final loss and masked accuracy per run, the paired
# bf16 − fp32 difference per seed against fp32's own run-to-run spread, and a loss-curve plot.
# usage: bench/bf16-training.sh [--preset tiny|small] [--steps N] [--seeds "1 2 3"] [--threads T]
# Writes bench/results/bf16-training-PRESET/{summary.csv,summary.md,loss.png} and one run folder per (precision, seed); a rerun
# resumes unfinished runs and skips finished ones. bf16 runs with --allow-slow-bf16: on a CPU without AVX-512 BF16 or
# AMX it is many times slower than fp32 (the numerics are the same).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cli=$("$root/scripts/bootstrap.sh")
steps=300; seeds="1 2 3"; threads=$(nproc); preset=tiny
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2;; --preset) preset=$2; shift 2;; --seeds) seeds=$2; shift 2;; --threads) threads=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
out="$root/bench/results/bf16-training-$preset"
mkdir -p "$out"
dotnet build "$here/CultureMert.Bench" -c Release -v q -o "$root/artifacts/bench" >&2
runs=()
for seed in $seeds; do
  # The tiny recipe's base stage, shortened to STEPS with its warm-up scaled, seeded by SEED (weights and draws).
  recipe="$out/recipe-seed$seed.json"
  /usr/bin/python3 - "$root/recipes/tiny-two-stage.json" "$recipe" "$steps" "$seed" "$preset" <<'PY'
import json, os, sys
src, dst, steps, seed, preset = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(src))
r["description"] = f"bench/bf16-training.sh: the base stage of {os.path.basename(src)} on init:{preset}, {steps} steps, seed {seed}"
r["base"] = f"init:{preset}"
r["init_seed"], r["seed"], r["checkpoint_every"] = seed, seed, max(50, steps // 4)
stage = r["stages"][0]
stage.update(steps=steps, warmup_steps=max(1, steps // 10))
r["stages"] = [stage]
text = json.dumps(r, indent=2) + "\n"
if not os.path.exists(dst) or open(dst).read() != text:
    open(dst, "w").write(text)
PY
  for precision in fp32 bf16; do
    run="$out/$precision-seed$seed"
    runs+=("$precision=$run/log.csv")
    if [ -d "$run/stages" ]; then echo "[bench] $precision seed $seed: done" >&2; continue; fi
    echo "[bench] $precision seed $seed: $steps steps" >&2
    dotnet "$cli" pretrain --recipe "$recipe" --out "$run" --resume --precision "$precision" --allow-slow-bf16 --threads "$threads" > "$run.out" 2>&1 \
      || { echo "[bench] $precision seed $seed failed: see $run.out" >&2; exit 1; }
  done
done
dotnet "$root/artifacts/bench/CultureMert.Bench.dll" curves --out "$out/loss.png" \
  --title "$preset model, base stage: fp32 vs bf16 mixed precision (seeds $seeds)" "${runs[@]}"
/usr/bin/python3 - "$out" "$steps" $seeds <<'PY' | tee "$out/summary.md"
import csv, os, statistics as st, sys
out, steps, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
tail = max(10, steps // 10)           # the final loss: the mean of the last 10 % of the steps
rows = []
for seed in seeds:
    for p in ("fp32", "bf16"):
        log = list(csv.DictReader(open(os.path.join(out, f"{p}-seed{seed}", "log.csv"))))
        last = log[-tail:]
        acc = [k for k in log[0] if k.startswith("acc_")]
        rows.append(dict(precision=p, seed=seed, steps=len(log),
                         final_loss=st.mean(float(r["loss"]) for r in last),
                         final_masked_acc=st.mean(st.mean(float(r[k]) for k in acc) for r in last),
                         ms_per_step=st.median(float(r["ms_per_step"]) for r in log[len(log) // 10:])))
with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader(); w.writerows(rows)
print(f"Final loss and masked accuracy: means of the last {tail} of {steps} steps (log.csv); ms/step: median after 10 % of the steps.\n")
print("| precision | seed | final loss | masked accuracy | ms/step |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {r['precision']} | {r['seed']} | {r['final_loss']:.4f} | {r['final_masked_acc']:.4f} | {r['ms_per_step']:.0f} |")
for metric in ("final_loss", "final_masked_acc"):
    f32 = [r[metric] for r in rows if r["precision"] == "fp32"]
    b16 = [r[metric] for r in rows if r["precision"] == "bf16"]
    diffs = [b - a for a, b in zip(f32, b16)]                      # paired by seed: same weights, data, noise and masks
    spread = st.stdev(f32) if len(f32) > 1 else float("nan")
    within = all(abs(d) <= spread for d in diffs)
    print(f"\n{metric}: fp32 {st.mean(f32):.4f} (sd over seeds {spread:.4f}), bf16 {st.mean(b16):.4f}; "
          f"bf16 − fp32 per seed {', '.join(f'{d:+.4f}' for d in diffs)} → "
          f"{'every difference within' if within else 'NOT all within'} fp32's run-to-run sd.")
PY
