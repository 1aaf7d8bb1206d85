#!/usr/bin/python3
"""PyTorch reference for the training benchmark: one MERT pre-training step (forward + backward + clip + AdamW) on
torchaudio's wav2vec2_model at MERT-v1-95M's shape (or a tiny one), random weights, random waveforms and targets.
The objective follows docs spec mert.md §4/§7 (fairseq MERT_RVQ-VAE_CQT_95M): CNN gradient x0.1, features_pen,
span masking (p 0.8, length 5, same count per row), learned mask embedding, 8 EnCodec codebooks predicted with the
HuBERT cosine-similarity / 0.1 classifier on masked frames, CQT reconstruction (MSE) on masked frames.
Not modelled: in-batch noise mixing (under no_grad, cheap) and fp16. --precision bf16: the forward and loss under
torch.autocast("cpu", torch.bfloat16) (fp32 weights and AdamW), the usual PyTorch mixed precision on a CPU.
One configuration per process; prints one JSON line.
usage: reference_train.py [--size tiny|small|95m] [--batch B] [--crop-seconds S] [--steps N] [--warmup W] [--threads T]
                          [--precision fp32|bf16]"""
import argparse, json, os, resource, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchaudio.models import wav2vec2_model

p = argparse.ArgumentParser()
p.add_argument("--size", choices=["tiny", "small", "95m"], default="tiny")
p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
p.add_argument("--batch", type=int, default=2); p.add_argument("--crop-seconds", type=float, default=5.0)
p.add_argument("--steps", type=int, default=5); p.add_argument("--warmup", type=int, default=1)
p.add_argument("--threads", type=int, default=os.cpu_count()); p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

CODEBOOKS, CLASSES, FINAL_DIM, CQT_BINS = 8, 1024, 64, 336
kernels = [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2
if a.size == "95m":
    conv_dim, hidden, layers, heads, ff, pos_k, pos_g = 512, 768, 12, 12, 3072, 128, 16
elif a.size == "small":                                                     # MertConfig.Preset("small")
    conv_dim, hidden, layers, heads, ff, pos_k, pos_g = 128, 256, 4, 4, 1024, 64, 16
else:
    conv_dim, hidden, layers, heads, ff, pos_k, pos_g = 32, 64, 2, 4, 128, 16, 4
convs = [(conv_dim, k, s) for k, s in kernels]
# Dropouts as in the 95M yaml: dropout_input 0.1 (projection), attention 0.1, activation 0.0, dropout 0.1, layerdrop 0.05.
model = wav2vec2_model("group_norm", convs, False, hidden, 0.1, pos_k, pos_g, layers, heads, 0.1, ff, 0.0, 0.1,
                       False, 0.05, None)


class Heads(nn.Module):
    """The pre-training-only parameters (absent from the HF checkpoint), initialised as fairseq MERTModel does."""
    def __init__(self):
        super().__init__()
        self.mask_emb = nn.Parameter(torch.empty(hidden).uniform_(0, 1))
        self.final_proj = nn.Linear(hidden, FINAL_DIM * CODEBOOKS)        # untie_final_proj: chunk i <-> codebook i
        self.label_embs = nn.Parameter(torch.empty(CODEBOOKS * CLASSES, FINAL_DIM).uniform_(0, 1))
        self.cqt_head = nn.Linear(hidden, CQT_BINS)


heads = Heads()
model.train(); heads.train()
params = list(model.parameters()) + list(heads.parameters())
opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)

samples = int(round(a.crop_seconds * 24000))
wave = torch.rand(a.batch, samples) * 0.2 - 0.1
with torch.no_grad():
    frames = model.feature_extractor(wave[:1], None)[0].shape[1]           # 374 for a 5-s crop
# Stand-ins for the teachers' outputs: EnCodec codes (B, T, 8) and a non-negative CQT magnitude (B, T, 336).
codes = torch.randint(0, CLASSES, (a.batch, frames, CODEBOOKS), dtype=torch.int64)
cqt = torch.rand(a.batch, frames, CQT_BINS)


def span_mask(b, t, prob=0.8, span=5):
    """fairseq compute_mask_indices, static, min_masks 2, overlaps allowed, then require_same_masks: every row is
    subsampled down to the smallest masked count so that the masked frames form a (B, S) block."""
    rows = []
    for _ in range(b):
        n = max(2, int(prob * t / span + torch.rand(1).item()))
        starts = torch.randperm(t - span)[:n]
        idx = (starts[:, None] + torch.arange(span)[None]).flatten().unique()
        rows.append(idx)
    keep = min(len(r) for r in rows)
    mask = torch.zeros(b, t, dtype=torch.bool)
    for i, r in enumerate(rows):
        mask[i, r[torch.randperm(len(r))[:keep]]] = True
    return mask


def loss_fn():
    feats, _ = model.feature_extractor(wave, None)                          # (B, T, C)
    feats = feats.detach() + 0.1 * (feats - feats.detach())                 # GradMultiply(0.1): same value, grad x0.1
    pen = feats.float().pow(2).mean()                                       # taken after GradMultiply, as in fairseq
    x = model.encoder.feature_projection(feats)                             # LayerNorm -> Linear -> Dropout(0.1)
    mask = span_mask(*x.shape[:2])
    x = torch.where(mask[..., None], heads.mask_emb.to(x.dtype), x)
    x = model.encoder.transformer(x)                                        # pos conv, LN, dropout, layers + layerdrop
    xm = x[mask]                                                            # (S, hidden): skip_nomask, unmasked unused
    s = xm.shape[0]
    # HuBERT classifier: cosine(p_i, E_i[c]) / 0.1 over all classes of codebook i == softmax CE on the label index.
    pi = F.normalize(heads.final_proj(xm).view(s, CODEBOOKS, FINAL_DIM).float(), dim=-1)
    ei = F.normalize(heads.label_embs.view(CODEBOOKS, CLASSES, FINAL_DIM), dim=-1)
    logits = torch.einsum("sid,icd->sic", pi, ei) / 0.1                     # (S, 8, 1024)
    ce = F.cross_entropy(logits.reshape(-1, CLASSES), codes[mask].reshape(-1), reduction="sum") / s  # sum_i mean CE_i
    mse = F.mse_loss(heads.cqt_head(xm), cqt[mask])
    return ce + 10.0 * pen + mse                                            # criterion loss_weights [10, 1]


def step():
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
        loss = loss_fn()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 10.0)
    opt.step()
    opt.zero_grad()
    return loss.item()


for _ in range(a.warmup): step()                                        # first steps allocate, untimed
times, losses = [], []
for _ in range(a.steps):
    t0 = time.perf_counter()
    losses.append(step())
    times.append(time.perf_counter() - t0)
sec = sum(times) / len(times)
print(json.dumps({"impl": f"pytorch (torch {torch.__version__})", "workload": "train", "size": a.size, "precision": a.precision,
                  "batch": a.batch, "crop_seconds": a.crop_seconds, "frames": frames, "steps": a.steps,
                  "warmup": a.warmup, "ms_per_step": round(sec * 1000, 1),
                  "ms_per_step_min": round(min(times) * 1000, 1), "audio_s_per_s": a.batch * a.crop_seconds / sec,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "threads": a.threads, "params": sum(t.numel() for t in params),
                  "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4)}))
