"""DDP under torchrun: who this process is, and the few collective calls the loop needs.

The same entry point runs alone (world 1: every call here is a no-op) or as one of K torchrun
processes: gloo on CPU, nccl on CUDA. Only rank 0 writes checkpoints, metrics and reports.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as td
from torch.nn.parallel import DistributedDataParallel


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        """Join the torchrun process group when WORLD_SIZE > 1 (the launcher sets it)."""
        world = int(os.environ.get("WORLD_SIZE", 1))
        if world == 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
        if not td.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(local)
            td.init_process_group(backend)
        return cls(rank, world, local)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")

    def seed_rank(self, seed: int, at_step: int = 0) -> None:
        """Give this rank a torch RNG stream of its own (dropout): ranks past 0 reseed from (seed,
        rank, step), so their masks are not copies of rank 0's. Rank 0 keeps `seed`'s stream, so
        a run alone draws what it always did. Derived by hashing, not seed + rank, which would
        give rank 1 of seed 11 the stream of rank 0 of seed 12."""
        if self.rank:
            digest = hashlib.sha256(f"{seed}/{self.rank}/{at_step}".encode()).digest()
            torch.manual_seed(int.from_bytes(digest[:8], "little") >> 1)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        ids = [self.local_rank] if torch.cuda.is_available() else None
        # some heads see no items in a given batch (no antisymmetric triple, say): their parameters
        # get no gradient on that rank, which DDP must be told to expect
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def no_sync(self, model: torch.nn.Module, sync: bool):
        """Skip the gradient all-reduce on all but the last micro-batch of a step."""
        return model.no_sync() if self.world > 1 and not sync else nullcontext()

    def all_gather(self, obj: Any) -> list[Any]:
        """obj of every rank, in rank order (alone: [obj])."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        td.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.world > 1:
            td.barrier()

    def close(self) -> None:
        if self.world > 1 and td.is_initialized():
            td.destroy_process_group()
