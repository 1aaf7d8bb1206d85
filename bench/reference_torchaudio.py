#!/usr/bin/python3
"""PyTorch reference for the embedding benchmark: torchaudio's wav2vec2_model at MERT-v1-95M's shape (HuBERT post-LN,
7-layer CNN with GroupNorm, 12 x 768), random weights, eval + inference_mode, all hidden states time-pooled as
`culturemert embed` does. One configuration per process; prints one JSON line like bench/CultureMert.Bench.
usage: reference_torchaudio.py forward --batch B --clips K [--threads T]"""
import argparse, json, os, resource, time
import torch
from torchaudio.models import wav2vec2_model

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["forward"])
p.add_argument("--batch", type=int, default=1); p.add_argument("--clips", type=int, default=8)
p.add_argument("--threads", type=int, default=os.cpu_count())
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
convs = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
m = wav2vec2_model("group_norm", convs, False, 768, 0.0, 128, 16, 12, 12, 0.0, 3072, 0.0, 0.0, False, 0.0, None).eval()
x = torch.rand(a.batch, 120000) * 0.2 - 0.1

def step():
    with torch.inference_mode():
        feats, _ = m.feature_extractor(x, None)
        h = m.encoder.transformer._preprocess(m.encoder.feature_projection(feats))
        pooled = [h.mean(1)]
        for layer in m.encoder.transformer.layers:
            h = layer(h, None); pooled.append(h.mean(1))
        torch.stack(pooled, 1).sum().item()

step()
steps = max(1, a.clips // a.batch)
t0 = time.perf_counter()
for _ in range(steps): step()
sec = time.perf_counter() - t0
clips = steps * a.batch
print(json.dumps({"impl": "pytorch", "mode": a.mode, "batch": a.batch, "threads": a.threads, "clips": clips,
                  "audio_s": clips * 5.0, "seconds": sec, "throughput": clips * 5.0 / sec,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "torch": torch.__version__}))
