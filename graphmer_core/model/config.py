"""Model configuration: one pydantic object sizes every module, from a ~1M test model to ~110M base.

The model never imports the ontology: relation ids (and which of them are antisymmetric or
hierarchical) arrive here as plain integers, filled in by whoever builds the config.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LEAVES_PER_ROOT = 7  # leaf slots per root in the leafy chain layout
SLOTS_PER_ROOT = LEAVES_PER_ROOT + 1  # a root and its leaves: total length is R x 8


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # sizes
    vocab_size: int = Field(32768, ge=8)
    hidden: int = Field(768, ge=8)
    n_layers: int = Field(12, ge=1)
    n_heads: int = Field(12, ge=1)
    ffn_hidden: int = Field(1792, ge=8)  # SwiGLU inner width; see roberta_like_param_count
    num_relations: int = Field(16, ge=2)  # relation vocabulary, id 0 = "no leaf"
    max_head_span: int = Field(8, ge=1)  # head-span tokens H-GAT attends over (longer spans are cut)
    # architecture switches (ablations)
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    mlp: Literal["swiglu", "gelu"] = "swiglu"
    attn_bias: Literal["alibi", "none"] = "alibi"
    rope: bool = True  # rotary positions over the root index: the bias alone has no left or right
    rope_dims: int = Field(16, ge=0)  # head dims rotated (partial rotary); the rest see only the bias
    rope_base: float = Field(32.0, gt=1)  # longest wavelength 2 pi base^(1 - 2/rope_dims) ~ 130 roots
    use_hgat: bool = True
    # regularisation
    dropout: float = Field(0.1, ge=0, lt=1)
    attn_dropout: float = Field(0.0, ge=0, lt=1)  # > 0 pushes CPU SDPA off its fused kernel
    relation_dropout: float = Field(0.3, ge=0, lt=1)  # on H-GAT's W_r and a_r
    # token conventions (the tokenizer's): PAD=0, CLS=1, SEP=2, MASK=3, UNK=4, regular ids from 5
    pad_token_id: int = 0
    mask_token_id: int = 3
    num_special_tokens: int = Field(5, ge=1)  # ids below this are special: never a random replacement
    ignore_index: int = -100
    validate_batches: bool = False  # debug: forward runs LeafyBatch.validate (the collate should)
    # objectives: loss = mlm + mnm_weight * mnm + weighted regularizers, each also reported alone
    # Defaults keep every auxiliary term's gradient on the blocks below MLM's and MNM's at init
    # (GraphMERForPretraining.term_grad_norms; InfoNCE at temperature 0.07 carries a 1/0.07 gain):
    # tiny, weighted: MLM 1.9, MNM 1.0, contrastive 0.66 (13 at weight 1), acyclicity 0.5, antisymmetry 0
    # (it scores names on both sides: it shapes the scorer and the token embeddings, not the blocks).
    mnm_weight: float = 1.0
    contrastive: bool = True
    contrastive_weight: float = 0.05
    temperature: float = Field(0.07, gt=0)
    antisymmetry: bool = True
    antisymmetry_weight: float = 0.2
    antisymmetry_margin: float = 0.2  # in cosine-score units
    acyclicity: bool = True
    acyclicity_weight: float = 0.2
    acyclicity_margin: float = 1.0  # in order-potential units
    antisymmetric_relation_ids: tuple[int, ...] = ()
    hierarchy_relation_ids: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.hidden % self.n_heads:
            raise ValueError(f"hidden={self.hidden} must be divisible by n_heads={self.n_heads}")
        if self.rope and (self.rope_dims % 2 or self.rope_dims > self.head_dim):
            raise ValueError(f"rope_dims={self.rope_dims} must be even and <= head_dim={self.head_dim}")
        if not max(self.pad_token_id, self.mask_token_id) < self.num_special_tokens < self.vocab_size:
            raise ValueError("pad and mask ids must be special (< num_special_tokens < vocab_size)")
        for name in ("antisymmetric_relation_ids", "hierarchy_relation_ids"):
            bad = [r for r in getattr(self, name) if not 0 < r < self.num_relations]
            if bad:
                raise ValueError(f"{name} {bad} outside 1..{self.num_relations - 1}")
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden // self.n_heads

    @classmethod
    def tiny(cls, **kw) -> ModelConfig:
        """About 1M parameters: unit tests, seconds on a CPU."""
        base = {"vocab_size": 1024, "hidden": 128, "n_layers": 2, "n_heads": 4, "ffn_hidden": 352,
                "num_relations": 8}
        return cls(**(base | kw))

    @classmethod
    def base(cls, **kw) -> ModelConfig:
        """RoBERTa-base width and depth (768 x 12, 12 heads). ffn_hidden=1792 keeps the total
        parameter count within 5% of a RoBERTa-base-like MLM of the same vocabulary: parameter-matched
        SwiGLU would be 2048, minus what H-GAT's per-relation matrices add (~9M)."""
        return cls(**kw)


def roberta_like_param_count(cfg: ModelConfig, max_positions: int = 1026) -> int:
    """Parameters of a RoBERTa-style MLM (GELU FFN 4x, biases, LayerNorms, learned positions,
    tied decoder) with cfg's vocabulary, width and depth: equals HF RobertaForMaskedLM's count."""
    d, v = cfg.hidden, cfg.vocab_size
    emb = v * d + max_positions * d + d + 2 * d  # words, positions, token type (1), LayerNorm
    layer = 4 * (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d) + 2 * d
    head = d * d + d + 2 * d + v  # dense, LayerNorm, decoder bias (decoder weight tied)
    return emb + cfg.n_layers * layer + head
