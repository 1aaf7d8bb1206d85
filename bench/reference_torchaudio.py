#!/usr/bin/python3
"""PyTorch reference for the embedding benchmark: torchaudio's wav2vec2_model at MERT-v1-95M's shape (HuBERT post-LN,
7-layer CNN with GroupNorm, 12 x 768), random weights, eval + inference_mode, all hidden states time-pooled as
`culturemert embed` does. One configuration per process; prints one JSON line like bench/CultureMert.Bench.
usage: reference_torchaudio.py forward --batch B --clips K [--threads T]
       reference_torchaudio.py embed --batch B --audio DIR [--threads T]   (end to end: torchaudio.load (MP3) or scipy
       (WAV), channel mean, torchaudio resample to 24 kHz, 5-s chunks, forward, time-mean, .safetensors per file, as in MERT's HF usage)"""
import argparse, json, os, resource, time
import torch
from torchaudio.models import wav2vec2_model

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["forward", "embed"])
p.add_argument("--audio")
p.add_argument("--batch", type=int, default=1); p.add_argument("--clips", type=int, default=8)
p.add_argument("--threads", type=int, default=os.cpu_count())
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
convs = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
m = wav2vec2_model("group_norm", convs, False, 768, 0.0, 128, 16, 12, 12, 0.0, 3072, 0.0, 0.0, False, 0.0, None).eval()
x = torch.rand(a.batch, 120000) * 0.2 - 0.1

def pooled_forward(x):
    with torch.inference_mode():
        feats, _ = m.feature_extractor(x, None)
        h = m.encoder.transformer._preprocess(m.encoder.feature_projection(feats))
        pooled = [h.mean(1)]
        for layer in m.encoder.transformer.layers:
            h = layer(h, None); pooled.append(h.mean(1))
        return torch.stack(pooled, 1)                      # (batch, layers, hidden)

def step():
    pooled_forward(x).sum().item()

def write_safetensors(path, tensors):
    import struct
    import numpy as np
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        b = t.numpy().astype(np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(header).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

def embed_file(path, out):
    import numpy as np
    import torchaudio.functional as AF
    if path.endswith(".wav"):
        from scipy.io import wavfile
        sr, raw = wavfile.read(path)
        x = torch.from_numpy(raw.astype(np.float32))
        x = x.mean(1) if x.dim() == 2 else x
    else:                                            # MP3 and the rest: torchaudio's own decoder (sox_io)
        import torchaudio
        raw, sr = torchaudio.load(path)              # (channels, frames) float32
        x = raw.mean(0)
    x = AF.resample(x[None], sr, 24000)[0]
    chunks = list(torch.split(x, 120000))
    if len(chunks) > 1 and chunks[-1].numel() < 24000: chunks.pop()
    full = [c for c in chunks if c.numel() == 120000]
    pooled = [pooled_forward(torch.stack(full[i:i + a.batch])) for i in range(0, len(full), a.batch)]
    pooled += [pooled_forward(c[None]) for c in chunks if c.numel() != 120000]
    ce = torch.cat(pooled)
    write_safetensors(out, {"chunk_embeddings": ce, "embedding": ce.mean(0)})
    return x.numel() / 24000

if a.mode == "forward":
    step()
    steps = max(1, a.clips // a.batch)
    t0 = time.perf_counter()
    for _ in range(steps): step()
    sec = time.perf_counter() - t0
    audio = steps * a.batch * 5.0
else:
    import glob, tempfile
    files = sorted(f for f in glob.glob(os.path.join(a.audio, "*")) if f.endswith((".wav", ".mp3", ".flac", ".ogg")))
    out = tempfile.mkdtemp()
    embed_file(files[0], os.path.join(out, "warm.safetensors"))
    t0 = time.perf_counter()
    audio = sum(embed_file(f, os.path.join(out, os.path.basename(f) + ".safetensors")) for f in files)
    sec = time.perf_counter() - t0
print(json.dumps({"impl": "pytorch", "mode": a.mode, "batch": a.batch, "threads": a.threads, "clips": round(audio / 5.0),
                  "audio_s": audio, "seconds": sec, "throughput": audio / sec,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "torch": torch.__version__}))
