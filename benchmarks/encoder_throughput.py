"""Training-step throughput of the GraphMER-SE encoder vs Hugging Face RoBERTa, on this CPU.

    .venv/bin/python benchmarks/encoder_throughput.py            # base size, R=128, batch 4 (~4 min)
    .venv/bin/python benchmarks/encoder_throughput.py --quick    # small config, seconds

One step = forward + backward + AdamW step, fp32, torch.set_num_threads(2). Three workloads:
GraphMER at a realistic leaf density (1 leaf block per 8 roots, 3-7 tail tokens), GraphMER with
every leaf slot full, and RobertaForMaskedLM (same width/depth, FFN 4x, sdpa attention) on the full
R x 8 sequence. The headline is sequences/s at the same R (the same work for the user); tokens/s
counts the tokens actually in the sequence (roots + real leaves for GraphMER, R x 8 for RoBERTa).
MFU = 6 x parameters x tokens/s / peak, peak = a 2048^3 fp32 matmul measured in the same run.
transformers is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from graphmer_core.model import LEAVES_PER_ROOT, GraphMERForPretraining, LeafyBatch, ModelConfig

MASK_ID, PAD_ID = 3, 0


def matmul_peak(n: int = 2048, reps: int = 6) -> float:
    """fp32 matmul FLOP/s on this machine, best of `reps` timed products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def leafy_batch(cfg: ModelConfig, B: int, R: int, full: bool, seed: int = 0) -> LeafyBatch:
    """Random leafy batch: full leaves, or 1 block per 8 roots with 3-7 tail tokens; 15% MLM targets,
    15% of blocks MNM-masked."""
    g = torch.Generator().manual_seed(seed)
    L, V, ign = LEAVES_PER_ROOT, cfg.vocab_size, cfg.ignore_index
    root_ids = torch.randint(5, V, (B, R), generator=g)
    has = torch.ones(B, R, dtype=torch.bool) if full else torch.rand(B, R, generator=g) < 1 / 8
    n = torch.full((B, R), L) if full else torch.randint(3, L + 1, (B, R), generator=g)
    leaf_mask = (torch.arange(L) < n[..., None]) & has[..., None]
    leaf_ids = torch.randint(5, V, (B, R, L), generator=g).masked_fill(~leaf_mask, PAD_ID)
    rel = torch.randint(1, cfg.num_relations, (B, R), generator=g) * has
    span = torch.randint(1, 4, (B, R), generator=g)
    mlm = torch.rand(B, R, generator=g) < 0.15
    mnm = ((torch.rand(B, R, generator=g) < 0.15) & has)[..., None] & leaf_mask
    return LeafyBatch(root_ids.masked_fill(mlm, MASK_ID), leaf_ids.masked_fill(mnm, MASK_ID), leaf_mask,
                      rel, span, mlm_targets=torch.where(mlm, root_ids, ign),
                      mnm_targets=torch.where(mnm, leaf_ids, ign)).validate(ign, V, cfg.num_relations)


def time_steps(step, warmup: int, steps: int) -> float:
    """Median seconds per step after warmup."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def bench_graphmer(cfg: ModelConfig, batch: LeafyBatch, warmup: int, steps: int) -> tuple[float, int]:
    torch.manual_seed(0)
    model = GraphMERForPretraining(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        model(batch).loss.backward()
        opt.step()

    return time_steps(step, warmup, steps), model.num_parameters()


def bench_roberta(cfg: ModelConfig, B: int, T: int, warmup: int, steps: int) -> tuple[float, int]:
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    rc = RobertaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.n_layers,
                       num_attention_heads=cfg.n_heads, intermediate_size=4 * cfg.hidden,
                       max_position_embeddings=T + 2, type_vocab_size=1, hidden_dropout_prob=cfg.dropout,
                       attention_probs_dropout_prob=cfg.attn_dropout, pad_token_id=1)
    model = RobertaForMaskedLM._from_config(rc, attn_implementation="sdpa").train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, cfg.vocab_size, (B, T), generator=g)
    masked = torch.rand(B, T, generator=g) < 0.15
    labels = torch.where(masked, ids, -100)
    inputs = ids.masked_fill(masked, MASK_ID)
    attn = torch.ones(B, T, dtype=torch.long)

    def step():
        opt.zero_grad(set_to_none=True)
        model(input_ids=inputs, attention_mask=attn, labels=labels).loss.backward()
        opt.step()

    return time_steps(step, warmup, steps), sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small config (256 x 4), R=64: seconds")
    ap.add_argument("--roots", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = ModelConfig.base()
    if args.quick:
        cfg = ModelConfig.base(vocab_size=8192, hidden=256, n_layers=4, n_heads=4, ffn_hidden=640)
        args.roots = min(args.roots, 64)
    B, R = args.batch, args.roots
    T = R * (LEAVES_PER_ROOT + 1)

    print(f"torch {torch.__version__}, fp32, {torch.get_num_threads()} threads, load avg {os.getloadavg()}")
    print(f"config: hidden {cfg.hidden}, layers {cfg.n_layers}, heads {cfg.n_heads}, vocab {cfg.vocab_size}, "
          f"SwiGLU {cfg.ffn_hidden} (RoBERTa GELU {4 * cfg.hidden}); R={R}, batch {B}, "
          f"{args.warmup} warmup + {args.steps} timed steps (median); step = fwd + bwd + AdamW")
    peak0 = matmul_peak()
    print(f"matmul peak (2048^3 fp32): {peak0 / 1e9:.1f} GFLOP/s")

    rows = []
    t, n_rob = bench_roberta(cfg, B, T, args.warmup, args.steps)
    rows.append(("RoBERTa (HF, sdpa)", f"full sequence {T}", T, t, n_rob))
    for name, full in (("realistic: 1 block / 8 roots", False), ("full leaves", True)):
        batch = leafy_batch(cfg, B, R, full)
        tok = (R + batch.leaf_mask.flatten(1).sum(1)).float().mean().item()
        t, n_gm = bench_graphmer(cfg, batch, args.warmup, args.steps)
        rows.append(("GraphMER-SE", name, tok, t, n_gm))
    peak = max(peak0, matmul_peak())
    print(f"matmul peak, best of start/end: {peak / 1e9:.1f} GFLOP/s")

    rob_seq = B / rows[0][3]
    print(f"\n{'model':20s} {'layout':30s} {'params':>7s} {'tok/seq':>8s} {'s/step':>7s} {'seq/s':>7s} "
          f"{'tok/s':>8s} {'MFU':>6s} {'seq/s vs RoBERTa':>17s}")
    for model, layout, tok, t, n in rows:
        seq_s = B / t
        mfu = 6 * n * tok * seq_s / peak
        print(f"{model:20s} {layout:30s} {n / 1e6:6.1f}M {tok:8.0f} {t:7.2f} {seq_s:7.3f} {tok * seq_s:8.0f} "
              f"{mfu:6.1%} {seq_s / rob_seq:16.2f}x")
    print("\ntokens = tokens in the sequence (roots + real leaves; RoBERTa: R x 8). The ratio is on "
          "sequences/s at the same R. MFU counts 6 x all parameters per token (attention FLOPs excluded).")


if __name__ == "__main__":
    main()
