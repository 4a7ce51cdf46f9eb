"""Training-step throughput of the GraphMER-SE encoder vs Hugging Face RoBERTa, on this CPU.

    .venv/bin/python benchmarks/encoder_throughput.py            # base size, R=128, batch 4 (~3-4 min)
    .venv/bin/python benchmarks/encoder_throughput.py --quick    # small config, seconds

One step = forward + backward + AdamW step (fused, for both), fp32, torch.set_num_threads(2).
Three workloads, timed in interleaved rounds so that load from other processes hits all alike:
GraphMER at a realistic leaf density (1 leaf block per 8 roots, 3-7 tail tokens), GraphMER with every
leaf slot full, and RobertaForMaskedLM (same width/depth, FFN 4x, sdpa attention) on the full R x 8
sequence. The headline is sequences/s at the same R (the same work for the user); tokens/s
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


def make_step(model: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn):
    def step() -> float:
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()
        return time.perf_counter() - t

    return step


def graphmer_steps(cfg: ModelConfig, batches: dict[str, LeafyBatch]) -> tuple[dict, tuple[int, int]]:
    """One GraphMER model and optimizer; a training-step closure per batch."""
    torch.manual_seed(0)
    model = GraphMERForPretraining(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    steps = {k: make_step(model, opt, lambda b=b: model(b).loss) for k, b in batches.items()}
    return steps, (model.num_parameters(), model.encoder.tok_emb.weight.numel())


def roberta_step(cfg: ModelConfig, B: int, T: int) -> tuple[object, tuple[int, int]]:
    """RobertaForMaskedLM of the same width, depth and vocabulary, FFN 4x, sdpa attention, with
    the same dropouts (attention dropout 0 keeps it on the fused kernel, as for GraphMER)."""
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    rc = RobertaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.n_layers,
                       num_attention_heads=cfg.n_heads, intermediate_size=4 * cfg.hidden,
                       max_position_embeddings=T + 2, type_vocab_size=1, hidden_dropout_prob=cfg.dropout,
                       attention_probs_dropout_prob=cfg.attn_dropout, pad_token_id=1)
    model = RobertaForMaskedLM._from_config(rc, attn_implementation="sdpa").train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, cfg.vocab_size, (B, T), generator=g)
    masked = torch.rand(B, T, generator=g) < 0.15
    labels = torch.where(masked, ids, -100)
    inputs = ids.masked_fill(masked, MASK_ID)
    attn = torch.ones(B, T, dtype=torch.long)
    step = make_step(model, opt, lambda: model(input_ids=inputs, attention_mask=attn, labels=labels).loss)
    emb = model.roberta.embeddings
    tables = sum(m.weight.numel() for m in (emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings))
    return step, (sum(p.numel() for p in model.parameters()), tables)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small config (256 x 4), R=64: seconds")
    ap.add_argument("--roots", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
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
          f"{args.warmup} warmup + {args.steps} timed rounds, interleaved (median); step = fwd + bwd + fused AdamW")
    batches = {"realistic": leafy_batch(cfg, B, R, full=False), "full": leafy_batch(cfg, B, R, full=True)}
    rob, n_rob = roberta_step(cfg, B, T)
    gm, n_gm = graphmer_steps(cfg, batches)
    work = {"roberta": rob, **gm}
    # interleaved rounds, so that load from other processes falls on every workload alike
    times: dict[str, list[float]] = {k: [] for k in work}
    peaks = []
    for i in range(args.warmup + args.steps):
        peaks.append(matmul_peak())
        for k, step in work.items():
            dt = step()
            if i >= args.warmup:
                times[k].append(dt)
    peak = max(peaks)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"matmul peak (2048^3 fp32), best of {len(peaks)} rounds: {peak / 1e9:.1f} GFLOP/s "
          f"(per round: {', '.join(f'{p / 1e9:.0f}' for p in peaks)}); load avg now {os.getloadavg()}")
    tok = {k: (R + b.leaf_mask.flatten(1).sum(1)).float().mean().item() for k, b in batches.items()}
    rows = [("RoBERTa (HF, sdpa)", f"full sequence {T}", T, med["roberta"], n_rob, times["roberta"]),
            ("GraphMER-SE", "realistic: 1 block / 8 roots", tok["realistic"], med["realistic"], n_gm,
             times["realistic"]),
            ("GraphMER-SE", "full leaves", tok["full"], med["full"], n_gm, times["full"])]
    rob_seq = B / rows[0][3]
    print(f"\n{'model':20s} {'layout':30s} {'params':>7s} {'tok/seq':>8s} {'s/step':>7s} {'seq/s':>7s} "
          f"{'tok/s':>8s} {'MFU':>6s} {'MFU-ne':>6s} {'seq/s vs RoBERTa':>17s}")
    for model, layout, n_tok, t, (n, n_tables), all_t in rows:
        seq_s = B / t
        mfu, mfu_ne = (6 * k * n_tok * seq_s / peak for k in (n, n - n_tables))
        print(f"{model:20s} {layout:30s} {n / 1e6:6.1f}M {n_tok:8.0f} {t:7.2f} {seq_s:7.3f} {n_tok * seq_s:8.0f} "
              f"{mfu:6.1%} {mfu_ne:6.1%} {seq_s / rob_seq:16.2f}x   steps: {', '.join(f'{x:.2f}' for x in all_t)} s")
    print("\ntokens = tokens in the sequence (roots + real leaves; RoBERTa: R x 8). The ratio is on "
          "sequences/s at the same R.\nMFU = 6 x N x tokens/s / peak with N = all parameters; MFU-ne uses N without "
          "embedding tables (token, position). Attention score FLOPs are not counted in either.\n"
          "GraphMER applies its vocabulary projection only at MLM/MNM targets; HF RoBERTa at every position.")


if __name__ == "__main__":
    main()
