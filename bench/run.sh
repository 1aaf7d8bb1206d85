#!/usr/bin/env bash
# Benchmarks: CultureMERT.NET vs the PyTorch reference on MERT-v1-95M's shape, 5-s clips: embedding (forward, end to
# end; batch 1 and 4) with the pre-training teachers, and one pre-training step (tiny and 95M).
# usage: bench/run.sh [--clips K] [--threads T] [--model DIR] [--install-reference] [--only embed|train]
#   --only embed: the embedding and teacher tables; --only train: the pre-training step table (default: all).
# Prints a Markdown table and writes it to bench/results/latest.md (+ raw JSON lines).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CULTUREMERT_ROOT="$(cd "$here/.." && pwd)"
CULTUREMERT_CLI_DLL=$("$CULTUREMERT_ROOT/scripts/bootstrap.sh")
clips=8; threads=$(nproc); model_args=(); install=0; only=all
while [ $# -gt 0 ]; do
  case "$1" in
    --clips) clips=$2; shift 2;; --threads) threads=$2; shift 2;; --model) model_args=(--model "$2"); shift 2;;
    --install-reference) install=1; shift;; --only) only=$2; shift 2;; *) echo "unknown option $1" >&2; exit 2;;
  esac
done
case "$only" in all|embed|train) ;; *) echo "--only takes embed or train, not $only" >&2; exit 2;; esac
if [ "$install" = 1 ] && [ "$(id -u)" = 0 ]; then
  # libopenblas0-pthread: without it Debian's torch falls back to the reference BLAS, about 15x slower.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-torchaudio libopenblas0-pthread >&2
fi
dotnet build "$here/CultureMert.Bench/CultureMert.Bench.csproj" -c Release --nologo -v q -o "$CULTUREMERT_ROOT/artifacts/bench" >&2
results="$here/results"; mkdir -p "$results"
raw="$results/latest.jsonl"; teachers="$results/teachers.jsonl"; train="$results/train.jsonl"; : > "$raw"; : > "$teachers"; : > "$train"
has_ref=0; /usr/bin/python3 -c 'import torch, torchaudio' 2>/dev/null && has_ref=1
if [ "$only" != train ]; then
  if [ ${#model_args[@]} -eq 0 ]; then
    # A random MERT-v1-95M written once, so that each measured process only loads it (its peak RSS is that of embedding).
    model_dir="$results/mert-95m-random"
    [ -f "$model_dir/model.safetensors" ] || dotnet "$CULTUREMERT_CLI_DLL" init --preset mert-95m --seed 0 --out "$model_dir" >&2
    model_args=(--model "$model_dir")
  fi
  audio="$results/audio"; rm -rf "$audio"
  dotnet "$CULTUREMERT_ROOT/artifacts/bench/CultureMert.Bench.dll" make-audio --clips "$clips" --out "$audio"
  bench() { # bench IMPL MODE BATCH
    echo "[bench] $1 $2 batch $3" >&2
    if [ "$1" = culturemert ]; then
      dotnet "$CULTUREMERT_ROOT/artifacts/bench/CultureMert.Bench.dll" "$2" --batch "$3" --clips "$clips" --audio "$audio" --threads "$threads" "${model_args[@]}" >> "$raw"
    else
      /usr/bin/python3 "$here/reference_torchaudio.py" "$2" --batch "$3" --clips "$clips" --audio "$audio" --threads "$threads" >> "$raw"
    fi
  }
  for mode in forward embed; do
    for b in 1 4; do
      bench culturemert "$mode" "$b"
      [ "$has_ref" = 1 ] && bench pytorch "$mode" "$b"
    done
  done
  # The pre-training teachers (tokenising must keep up with training): EnCodec at facebook/encodec_24khz size, CQT.
  for s in 5 60; do
    echo "[bench] encodec ${s}-s clips" >&2
    dotnet "$CULTUREMERT_ROOT/artifacts/bench/CultureMert.Bench.dll" encodec --seconds "$s" --clips 4 --threads "$threads" >> "$teachers"
  done
  echo "[bench] cqt" >&2
  dotnet "$CULTUREMERT_ROOT/artifacts/bench/CultureMert.Bench.dll" cqt --clips 8 --threads "$threads" >> "$teachers"
fi
if [ "$only" != embed ]; then
  # One pre-training step (forward + backward + clip + AdamW) on random data, the same settings on both sides.
  for cfg in "tiny 8 10" "95m 2 3"; do
    read -r size b steps <<< "$cfg"
    args=(--size "$size" --batch "$b" --crop-seconds 5 --steps "$steps" --threads "$threads")
    echo "[bench] train $size batch $b" >&2
    dotnet "$CULTUREMERT_ROOT/artifacts/bench/CultureMert.Bench.dll" train "${args[@]}" >> "$train"
    [ "$has_ref" = 1 ] && /usr/bin/python3 "$here/reference_train.py" "${args[@]}" >> "$train"
  done
fi
/usr/bin/python3 - "$raw" "$has_ref" "$teachers" "$train" <<'PY' | tee "$results/latest.md"
import json, sys, platform, os
rows, teachers, train = ([json.loads(l) for l in open(f) if l.strip()] for f in (sys.argv[1], sys.argv[3], sys.argv[4]))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"{(rows or train)[0]['threads']} threads, {cpu}")
if rows:
    ref = {(r["mode"], r["batch"]): r for r in rows if r["impl"] == "pytorch"}
    print("\nMERT-v1-95M shape, 5-s clips\n")
    print("| impl | workload | batch | clips | audio-s/s | peak RSS (MiB) | vs PyTorch, same workload |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        key = (r["mode"], r["batch"])
        ratio = f"{r['throughput'] / ref[key]['throughput']:.2f}x" if key in ref and r["impl"] != "pytorch" else ""
        name = r["impl"] + (f" (torch {r['torch']})" if "torch" in r else "")
        print(f"| {name} | {r['mode']} | {r['batch']} | {r['clips']} | {r['throughput']:.2f} | {r['peak_rss_mb']} | {ratio} |")
if sys.argv[2] != "1":
    print("\n(PyTorch reference not installed: run bench/run.sh --install-reference as root)")
if teachers:
    print()
    print("| teacher | clip | audio-s/s | peak RSS (MiB) |")
    print("| --- | --- | --- | --- |")
    for r in teachers:
        if r["mode"] == "encodec":
            print(f"| EnCodec 24 kHz, 6 kbps (random weights, real size) | {r['clip_s']:g} s | {r['throughput']:.1f} | {r['peak_rss_mb']} |")
        else:
            print(f"| CQT (336 bins, hop 320) | 5 s | {r['throughput_5s']:.1f} | {r['peak_rss_mb']} |")
            print(f"| CQT (336 bins, hop 320) | 60 s | {r['throughput_60s']:.1f} | |")
if train:
    ref = {(r["size"], r["batch"]): r for r in train if r["impl"] != "culturemert"}
    print("\nPre-training step (forward + backward + clip + AdamW), random data, 5-s crops\n")
    print("| impl | size | params | batch | steps | ms/step (min) | audio-s/s | peak RSS (MiB) | vs PyTorch, same workload |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in train:
        key = (r["size"], r["batch"])
        ratio = f"{r['audio_s_per_s'] / ref[key]['audio_s_per_s']:.2f}x" if key in ref and r["impl"] == "culturemert" else ""
        print(f"| {r['impl']} | {r['size']} | {r['params'] / 1e6:.1f} M | {r['batch']} | {r['steps']} | {r['ms_per_step']:.0f} ({r['ms_per_step_min']:.0f}) "
              f"| {r['audio_s_per_s']:.2f} | {r['peak_rss_mib']} | {ratio} |")
PY
