#!/usr/bin/env bash
# Benchmarks: CultureMERT.NET vs the PyTorch reference on MERT-v1-95M's shape, 5-s clips: embedding (forward, end to
# end from MP3 files; batch 1 and 4; fp32 and bf16), the machine's GEMM bound, a per-stage profile, the pre-training
# teachers, and one pre-training step (tiny and 95M).
# usage: bench/run.sh [--clips K] [--threads T] [--model DIR] [--install-reference] [--only embed|train|memory]
#   --only embed: the embedding, bound, profile and teacher tables; --only train: the pre-training step table
#   (default: both); --only memory: peak RSS of embed over one 1-hour MP3 and over 10,000 files (about 20 minutes on
#   two cores; not part of the default).
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
case "$only" in all|embed|train|memory) ;; *) echo "--only takes embed, train or memory, not $only" >&2; exit 2;; esac
if [ "$install" = 1 ] && [ "$(id -u)" = 0 ]; then
  # libopenblas0-pthread: without it Debian's torch falls back to the reference BLAS, about 15x slower.
  # sox + libsox-fmt-mp3: the MP3 inputs of the end-to-end runs (and torchaudio's MP3 decoding on the PyTorch side).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-torchaudio libopenblas0-pthread sox libsox-fmt-mp3 >&2
fi
bench_dll="$CULTUREMERT_ROOT/artifacts/bench/CultureMert.Bench.dll"
# to_mp3 DIR: every WAV of DIR becomes a 44.1 kHz stereo 192 kbit/s MP3 (what music collections hold), if sox can.
to_mp3() {
  if sox -h 2>/dev/null | grep -q "AUDIO FILE FORMATS:.* mp3"; then
    for f in "$1"/*.wav; do sox "$f" -c 2 -C 192 "${f%.wav}.mp3" 2>/dev/null && rm "$f"; done
  else
    echo "[bench] no sox with MP3 support (bench/run.sh --install-reference installs it): the inputs stay WAV" >&2
  fi
}
dotnet build "$here/CultureMert.Bench/CultureMert.Bench.csproj" -c Release --nologo -v q -o "$CULTUREMERT_ROOT/artifacts/bench" >&2
results="$here/results"; mkdir -p "$results"
raw="$results/latest.jsonl"; teachers="$results/teachers.jsonl"; train="$results/train.jsonl"; : > "$raw"; : > "$teachers"; : > "$train"
has_ref=0; /usr/bin/python3 -c 'import torch, torchaudio' 2>/dev/null && has_ref=1
if [ "$only" = memory ]; then
  # Peak memory of embed (95M, fp32, batch 4, as the CLI runs it) over one 1-hour MP3 and over 10,000 short files.
  [ ${#model_args[@]} -gt 0 ] || { model_dir="$results/mert-95m-random"; model_args=(--model "$model_dir")
    [ -f "$model_dir/model.safetensors" ] || dotnet "$CULTUREMERT_CLI_DLL" init --preset mert-95m --seed 0 --out "$model_dir" >&2; }
  long="$results/long"; many="$results/many"
  [ "$(ls "$long" 2>/dev/null | wc -l)" -ge 1 ] || { dotnet "$bench_dll" make-audio --out "$long" --files 1 --seconds 3600; to_mp3 "$long"; }
  [ "$(ls "$many" 2>/dev/null | wc -l)" -ge 10000 ] || dotnet "$bench_dll" make-audio --out "$many" --files 10000 --seconds 0.25
  : > "$results/memory.jsonl"
  for dir in long many; do
    echo "[bench] memory: $dir" >&2
    dotnet "$bench_dll" memory --audio "$results/$dir" --batch 4 --threads "$threads" --plot "$results/memory-$dir.png" "${model_args[@]}" >> "$results/memory.jsonl"
  done
  /usr/bin/python3 - "$results/memory.jsonl" <<'PY' | tee "$results/memory.md"
import json, sys
print("| input | files | audio (s) | audio-s/s | peak RSS, first half of the run (MiB) | second half (MiB) | RSS at 10 % / end (MiB) | peak RSS, whole process (MiB) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
f = lambda x: "–" if x is None else f"{x:.0f}"
for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip()):
    name = "one long MP3" if r["files"] == 1 else f"{r['files']:,} files"
    print(f"| {name} | {r['files']} | {r['audio_s']:.0f} | {r['throughput']:.2f} | {f(r['peak_rss_first_half_mib'])} | {f(r['peak_rss_second_half_mib'])} "
          f"| {f(r['rss_at_10pct_mib'])} / {f(r['rss_end_mib'])} | {f(r['peak_rss_mb'])} |")
PY
  exit 0
fi
if [ "$only" != train ]; then
  if [ ${#model_args[@]} -eq 0 ]; then
    # A random MERT-v1-95M written once, so that each measured process only loads it (its peak RSS is that of embedding).
    model_dir="$results/mert-95m-random"
    [ -f "$model_dir/model.safetensors" ] || dotnet "$CULTUREMERT_CLI_DLL" init --preset mert-95m --seed 0 --out "$model_dir" >&2
    model_args=(--model "$model_dir")
  fi
  audio="$results/audio"; rm -rf "$audio"
  dotnet "$bench_dll" make-audio --clips "$clips" --out "$audio"
  to_mp3 "$audio"
  bench() { # bench IMPL MODE BATCH [PRECISION]
    echo "[bench] $1 $2 batch $3 ${4:-}" >&2
    if [ "$1" = culturemert ]; then
      dotnet "$bench_dll" "$2" --batch "$3" --clips "$clips" --audio "$audio" --threads "$threads" --precision "$4" "${model_args[@]}" >> "$raw"
    else
      /usr/bin/python3 "$here/reference_torchaudio.py" "$2" --batch "$3" --clips "$clips" --audio "$audio" --threads "$threads" >> "$raw"
    fi
  }
  for mode in forward embed; do
    for b in 1 4; do
      bench culturemert "$mode" "$b" fp32
      bench culturemert "$mode" "$b" bf16
      [ "$has_ref" = 1 ] && bench pytorch "$mode" "$b"
    done
  done
  # embed as the CLI runs it by default (no --batch-size): the batch size measured by a first run, then read from the
  # cache; the first run (which measures on its own batches) is not recorded.
  dotnet "$bench_dll" embed --batch 0 --clips "$clips" --audio "$audio" --threads "$threads" --precision fp32 "${model_args[@]}" > /dev/null
  bench culturemert embed 0 fp32
  # The bound: this machine's GEMM rate at the model's shapes; then where the time of embed goes, stage by stage.
  echo "[bench] gemm, profile" >&2
  dotnet "$bench_dll" gemm --threads "$threads" > "$results/gemm.json"
  # Each conv1d shape of the model: every candidate algorithm's rate on the real shape, and the autotuner's choice.
  : > "$results/conv.jsonl"
  for b in 1 4; do dotnet "$bench_dll" conv --batch "$b" --threads "$threads" --precision fp32 >> "$results/conv.jsonl"; done
  : > "$results/profile.jsonl"
  for p in fp32 bf16; do
    dotnet "$bench_dll" profile --batch 1 --audio "$audio" --threads "$threads" --precision "$p" "${model_args[@]}" >> "$results/profile.jsonl"
  done
  # The pre-training teachers (tokenising must keep up with training): EnCodec at facebook/encodec_24khz size, CQT.
  for s in 5 60; do
    echo "[bench] encodec ${s}-s clips" >&2
    dotnet "$bench_dll" encodec --seconds "$s" --clips 4 --threads "$threads" >> "$teachers"
  done
  echo "[bench] cqt" >&2
  dotnet "$bench_dll" cqt --clips 8 --threads "$threads" >> "$teachers"
fi
if [ "$only" != embed ]; then
  # One pre-training step (forward + backward + clip + AdamW) on random data, the same settings on both sides; bf16
  # mixed precision (ours: precision bf16; PyTorch: autocast) only where the CPU multiplies bf16 natively.
  precisions=fp32
  if grep -qwE "avx512_bf16|amx_bf16" /proc/cpuinfo; then precisions="fp32 bf16"
  else echo "[bench] this CPU has no native bf16 (avx512_bf16/amx_bf16): the training step is timed in fp32 only" >&2; fi
  for cfg in "tiny 8 10" "small 8 5" "95m 2 3"; do
    read -r size b steps <<< "$cfg"
    for p in $precisions; do
      args=(--size "$size" --batch "$b" --crop-seconds 5 --steps "$steps" --threads "$threads" --precision "$p")
      echo "[bench] train $size batch $b $p" >&2
      dotnet "$bench_dll" train "${args[@]}" >> "$train"
      [ "$has_ref" = 1 ] && /usr/bin/python3 "$here/reference_train.py" "${args[@]}" >> "$train"
    done
  done
  # A real pre-training run's step split (data wait, forward, backward, all-reduce, clip, optimiser) from its log.csv.
  echo "[bench] pretrain step split: tiny recipe, 40 steps" >&2
  rm -rf "$results/pretrain-split"
  dotnet "$CULTUREMERT_CLI_DLL" pretrain --recipe "$CULTUREMERT_ROOT/recipes/tiny-two-stage.json" --out "$results/pretrain-split" \
    --max-steps 40 --threads "$threads" > /dev/null
fi
/usr/bin/python3 - "$raw" "$has_ref" "$teachers" "$train" "$results" <<'PY' | tee "$results/latest.md"
import json, sys, platform, os
rows, teachers, train = ([json.loads(l) for l in open(f) if l.strip()] for f in (sys.argv[1], sys.argv[3], sys.argv[4]))
results = sys.argv[5]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"{(rows or train)[0]['threads']} threads, {cpu}")
gemm = json.load(open(os.path.join(results, "gemm.json"))) if rows and os.path.exists(os.path.join(results, "gemm.json")) else None
bound = {}
if gemm:
    # The forward's bound: each part of a 5-s clip's FLOPs at this machine's GEMM rate for its shape.
    f = gemm["clip_gflop"]
    print("\nMatrix-multiply rate (GFLOP/s) at MERT-95M's shapes, and the forward's bound for a 5-s clip\n")
    print("| dtype | linear 768→3072 | linear 3072→768 | conv1d 512→512 k3 s2 (libtorch) | the same as the model runs it (algorithm) | bound (audio-s/s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for g in gemm["gflops"]:
        lin = (g["linear_768_3072"] + g["linear_3072_768"]) / 2
        conv = max(g["conv1d_512_k3_s2"], g["conv1d_512_k3_s2_chosen"])   # the bound: the better of the two algorithms
        sec = f["cnn"] / conv + (f["projection_pos_conv"] + f["layers"]) / lin
        bound["bf16" if g["dtype"] == "BFloat16" else "fp32"] = 5 / sec
        print(f"| {g['dtype']} | {g['linear_768_3072']:.0f} | {g['linear_3072_768']:.0f} | {g['conv1d_512_k3_s2']:.0f} "
              f"| {g['conv1d_512_k3_s2_chosen']:.0f} ({g['conv1d_512_k3_s2_algorithm']}) | {5 / sec:.2f} |")
    print(f"\nFLOPs per 5-s clip: CNN {f['cnn']:.1f} G, projection + positional conv {f['projection_pos_conv']:.1f} G, 12 layers {f['layers']:.1f} G.")
if rows:
    ref = {(r["mode"], r["batch"]): r for r in rows if r["impl"] == "pytorch"}
    fmt = next((os.path.splitext(n)[1][1:] for n in sorted(os.listdir(os.path.join(results, "audio")))), "?") if os.path.isdir(os.path.join(results, "audio")) else "?"
    print(f"\nMERT-v1-95M shape, 5-s clips; embed reads 44.1 kHz {fmt.upper()} files of 20 s\n")
    print("| impl | precision | workload | batch | clips | audio-s/s | % of bound | peak RSS (MiB) | vs PyTorch fp32, same workload |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        key = (r["mode"], 1 if str(r["batch"]).startswith("auto") else r["batch"])   # auto: against PyTorch at batch 1
        prec = r.get("precision", "fp32")
        ratio = f"{r['throughput'] / ref[key]['throughput']:.2f}x" if key in ref and r["impl"] != "pytorch" else ""
        pct = f"{100 * r['throughput'] / bound[prec]:.0f} %" if prec in bound and r["impl"] != "pytorch" and r["mode"] == "forward" else ""
        name = r["impl"] + (f" (torch {r['torch']})" if "torch" in r else "")
        print(f"| {name} | {prec} | {r['mode']} | {r['batch']} | {r['clips']} | {r['throughput']:.2f} | {pct} | {r['peak_rss_mb']} | {ratio} |")
conv_path = os.path.join(results, "conv.jsonl")
convs = [json.loads(l) for l in open(conv_path) if l.strip()] if rows and os.path.exists(conv_path) else []
if convs:
    algos = list(dict.fromkeys(a for c in convs for a in c["gflops"]))
    print("\nConvolutions of a 5-s clip, fp32: GFLOP/s of each algorithm on the real shape, and the autotuner's choice "
          "(measured at first use, then read from the cache)\n")
    print("| layer | batch | shape key | GFLOP | " + " | ".join(algos) + " | chosen (how) |")
    print("| --- | --- | --- | --- |" + " --- |" * len(algos) + " --- |")
    for c in convs:
        cells = [f"{c['gflops'][a]:.0f}" if a in c["gflops"] else "–" for a in algos]
        print(f"| {c['layer']} | {c['batch']} | `{c['shape']}` | {c['gflop']:.2f} | " + " | ".join(cells) + f" | {c['chosen']} ({c['source']}, {c['choose_ms']:.0f} ms) |")
profile_path = os.path.join(results, "profile.jsonl")
profiles = [json.loads(l) for l in open(profile_path) if l.strip()] if rows and os.path.exists(profile_path) else []
if profiles:
    stages = list(dict.fromkeys(k for p in profiles for k in p["stages"]))
    print(f"\nWhere the time of embed goes (bench profile: batch 1, {profiles[0]['files']} {profiles[0]['format'].upper()} files, "
          f"{profiles[0]['audio_s']:.0f} s of audio, stages run one after another): ms per audio-second (share)\n")
    print("| stage | " + " | ".join(p["precision"] for p in profiles) + " |")
    print("| --- |" + " --- |" * len(profiles))
    for st in stages:
        cells = [f"{p['stages'][st]['ms_per_audio_s']:.1f} ({100 * p['stages'][st]['share']:.1f} %)" if st in p["stages"] else "" for p in profiles]
        print(f"| {st} | " + " | ".join(cells) + " |")
    print("| total (audio-s/s) | " + " | ".join(f"{1000 / p['throughput']:.1f} ({p['throughput']:.2f})" for p in profiles) + " |")
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
    ref = {(r["size"], r["batch"]): r for r in train if r["impl"] != "culturemert" and r.get("precision", "fp32") == "fp32"}
    print("\nPre-training step (forward + backward + clip + AdamW), random data, 5-s crops\n")
    print("| impl | precision | size | params | batch | steps | ms/step (min) | audio-s/s | peak RSS (MiB) | vs PyTorch fp32, same workload |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in train:
        key = (r["size"], r["batch"])
        ratio = f"{r['audio_s_per_s'] / ref[key]['audio_s_per_s']:.2f}x" if key in ref and r is not ref[key] else ""
        print(f"| {r['impl']} | {r.get('precision', 'fp32')} | {r['size']} | {r['params'] / 1e6:.1f} M | {r['batch']} | {r['steps']} | {r['ms_per_step']:.0f} ({r['ms_per_step_min']:.0f}) "
              f"| {r['audio_s_per_s']:.2f} | {r['peak_rss_mib']} | {ratio} |")
split = os.path.join(results, "pretrain-split", "log.csv")
if train and os.path.exists(split):
    import csv
    steps = list(csv.DictReader(open(split)))[10:]                       # after 10 warm-up steps
    total = sum(float(r["ms_per_step"]) for r in steps) / len(steps)
    phases = ["data", "forward", "backward", "allreduce", "clip", "optimizer"]
    print(f"\nPre-training step split: recipes/tiny-two-stage.json, steps 10-{len(steps) + 9} of log.csv, {total:.1f} ms/step\n")
    print("| " + " | ".join(phases) + " |")
    print("| " + " | ".join("---" for _ in phases) + " |")
    means = [sum(float(r["ms_" + p]) for r in steps) / len(steps) for p in phases]
    print("| " + " | ".join(f"{m:.1f} ms ({100 * m / total:.1f} %)" for m in means) + " |")
PY
