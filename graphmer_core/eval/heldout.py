"""Held-out MLM and MNM on the test split's windows, beside the trivial baselines on the very
same windows and masks. Every target is [MASK] in the input, so no answer is in view."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from graphmer_core.data.loader import IGNORE, SplitView, eval_batches
from graphmer_core.eval.baselines import TrainCounts
from graphmer_core.eval.load import LoadedRun
from graphmer_core.train.loop import batch_spec

L = 7


class Tally:
    """Correct / total counters by name."""

    def __init__(self):
        self.hit: dict[str, float] = defaultdict(float)
        self.n: dict[str, float] = defaultdict(float)

    def add(self, name: str, correct: np.ndarray) -> None:
        self.hit[name] += float(np.sum(correct))
        self.n[name] += float(np.size(correct))

    def rate(self, name: str) -> float | None:
        return self.hit[name] / self.n[name] if self.n[name] else None


@torch.no_grad()
def heldout(run: LoadedRun, counts: TrainCounts, windows: int = 2048, batch_size: int = 16,
            split: str = "test") -> dict:
    model, ds = run.model, run.ds
    view = SplitView(ds, split, run.roots, batch_spec(run.profile, seed=0, batch_size=batch_size))
    emb = model.encoder.tok_emb.weight
    t = Tally()
    loss_sum = {"mlm": 0.0, "mnm": 0.0}
    mf_tok, slot_tok = counts.most_frequent_token, counts.leaf_slot_token
    mf_tail, tail_tokens = counts.most_frequent_tail, ds.tail_tokens
    tail_len = ds.column("entities", "tail_len")
    n_windows = 0
    for batch in eval_batches(view, windows):
        lb = batch.leafy
        n_windows += lb.batch_size
        enc = model.encoder(lb)
        # MLM
        sel = lb.mlm_targets != IGNORE
        logits = model.mlm_head(enc.roots[sel], emb)
        tgt = lb.mlm_targets[sel]
        loss_sum["mlm"] += float(F.cross_entropy(logits, tgt, reduction="sum"))
        t.add("mlm/model", (logits.argmax(-1) == tgt).numpy())
        t.add("mlm/most_frequent_token", (tgt == mf_tok).numpy())
        # MNM, per leaf slot in the padded (B, R, 7) layout
        flat_t = lb.mnm_targets.flatten(1).gather(1, enc.leaf_index).masked_fill(~enc.leaf_valid, IGNORE)
        m = flat_t != IGNORE
        if not m.any():
            continue
        logits = model.mnm_head(enc.leaves[m], emb)
        loss_sum["mnm"] += float(F.cross_entropy(logits, flat_t[m], reduction="sum"))
        pred = torch.full(lb.mnm_targets.flatten(1).shape, -1, dtype=torch.long)
        rows = torch.nonzero(m)[:, 0]
        pred[rows, enc.leaf_index[m]] = logits.argmax(-1)
        pred = pred.view_as(lb.mnm_targets).numpy()
        target = lb.mnm_targets.numpy()
        blocks = np.argwhere((target != IGNORE).any(-1))  # (M, 2): masked leaf blocks (b, r)
        words = batch.word.numpy()
        for b, r in blocks:
            rel, tail = int(lb.relation_ids[b, r]), int(batch.tail[b, r])
            inw = "in_window" if bool(batch.in_window[b, r]) else "not_in_window"
            slots = target[b, r] != IGNORE
            truth = target[b, r][slots]
            guesses = {"model": pred[b, r][slots]}
            for name, ent in (("most_frequent_tail", int(mf_tail[rel])),
                              ("copy_from_window", counts.copy_tail(rel, words[b], int(r), int(lb.head_span[b, r])))):
                guesses[name] = tail_tokens[ent][slots] if ent >= 0 else np.full(len(truth), -1)
                exact = ent >= 0 and tail_len[ent] == tail_len[tail] and (tail_tokens[ent] == tail_tokens[tail]).all()
                for group in ("all", inw):
                    t.add(f"mnm_exact/{name}/{group}", np.array([exact]))
            guesses["most_frequent_token"] = slot_tok[np.flatnonzero(slots)]
            for name, g in guesses.items():
                for group in ("all", inw):
                    t.add(f"mnm/{name}/{group}", g == truth)
            for name in ("model", "most_frequent_token"):
                for group in ("all", inw):
                    t.add(f"mnm_exact/{name}/{group}", np.array([(guesses[name] == truth).all()]))
    out = {"split": split, "roots": run.roots, "windows": n_windows,
           "mlm": {"targets": int(t.n["mlm/model"]), "loss": loss_sum["mlm"] / max(t.n["mlm/model"], 1),
                   "accuracy": {"model": t.rate("mlm/model"),
                                "most_frequent_token": t.rate("mlm/most_frequent_token")}},
           "mnm": {"targets": int(t.n["mnm/model/all"]), "loss": loss_sum["mnm"] / max(t.n["mnm/model/all"], 1)}}
    for kind in ("mnm", "mnm_exact"):
        key = "accuracy" if kind == "mnm" else "exact_match"
        out["mnm"][key] = {g: {name: t.rate(f"{kind}/{name}/{g}") for name in
                               ("model", "most_frequent_token", "most_frequent_tail", "copy_from_window")}
                           for g in ("all", "in_window", "not_in_window")}
    out["mnm"]["blocks"] = {g: int(t.n[f"mnm_exact/model/{g}"]) for g in ("all", "in_window", "not_in_window")}
    return out
