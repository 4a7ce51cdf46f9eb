"""What a dataset is built from and how: one pydantic object, part of every training profile.

Every field enters `dataset_version`, so changing any of them gives a new dataset folder and
leaves the old one in place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Shares(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(0.90, ge=0, le=1)
    valid: float = Field(0.05, ge=0, le=1)
    test: float = Field(0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Shares:
        if abs(self.train + self.valid + self.test - 1) > 1e-9:
            raise ValueError(f"split shares must sum to 1, got {self.train} + {self.valid} + {self.test}")
        return self


class DatasetConfig(BaseModel):
    """Splits, tokenizer and leafy-chain annotation of a dataset built over one KG version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    corpora: list[str] | None = None  # KG corpora to use; None = all of them
    max_files: int | None = Field(None, ge=1)  # per corpus, a fixed hash-ordered sample (a slice for tests)
    shares: Shares = Shares()
    split_by: Literal["file", "corpus"] = "file"  # "corpus": each corpus whole in one split
    # files sharing a run of lines with this many non-space characters share a split (0 = off)
    near_duplicate_chars: int = Field(200, ge=0)
    # a group of copies holding more than this share of the bytes stays in train: one family of
    # generated files (charset tables, say) must not make up a held-out split
    max_heldout_group_share: float = Field(0.01, gt=0, le=1)
    vocab_size: int = Field(16384, ge=300)  # BPE vocabulary including the 5 special tokens
    tokenizer_sample_bytes: int = Field(8_000_000, ge=1)  # cap on training-split bytes the BPE learns from
    leak_check_roots: int = Field(128, ge=8)  # R of the windows the leak check and the manifest use
    max_tail_tokens: int = Field(7, ge=1, le=7)  # longer tail names are not attached (recorded per relation)
    strip_headers: bool = True  # skip each file's leading comment block (licence headers)
