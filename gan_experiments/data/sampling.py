"""Data order as a pure function of (seed, epoch, rank), so that a resumed run sees the same batches.

Lightning restores weights, optimizers and counters from a checkpoint, but not where the random streams
were: a plain ``shuffle=True`` loader draws its permutation from the global RNG, whose state after a
resume differs from the uninterrupted run's. ``EpochShuffle`` draws epoch e's permutation from a generator
seeded by (seed, e) instead, and also reseeds the loader's own generator (the source of the worker seeds,
hence of random crops and flips in workers) at every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def derived_seed(*parts: int) -> int:
    """A 32-bit seed for the tuple ``parts`` (numpy SeedSequence: independent streams for nearby tuples)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


# tags that keep the data streams apart from EpochSeed's (seed, epoch, rank) streams
_PERMUTATION, _WORKERS = 101, 102


class EpochShuffle(Sampler[int]):
    """Indices of epoch e: ``randperm(n, seed=(seed, e))[rank::world_size]``, cut to ``n // world_size``.

    All ranks share the permutation and take disjoint shards of equal length (DDP needs equal batch counts),
    so this sampler replaces Lightning's DistributedSampler (``trainer.use_distributed_sampler=false``).
    ``set_epoch`` (called by Lightning before every epoch) also reseeds ``loader_generator``: pass it as the
    DataLoader's ``generator`` so the worker seeds of epoch e depend on (seed, e, rank) only.
    ``skip`` drops the first indices of the first pass (the batches a mid-epoch checkpoint already saw).
    """

    def __init__(self, n: int, seed: int, epoch: int = 0, rank: int = 0, world_size: int = 1, skip: int = 0):
        if n < world_size:
            raise ValueError(f"{n} samples cannot be split across {world_size} processes")
        self.n, self.seed, self.rank, self.world_size = n, seed, rank, world_size
        self.skip = skip  # indices of this epoch already trained on (a resume from a mid-epoch checkpoint)
        self.loader_generator = torch.Generator()
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.loader_generator.manual_seed(derived_seed(self.seed, epoch, self.rank, _WORKERS))

    def __iter__(self) -> Iterator[int]:
        # a generator function: the permutation is drawn at the first batch, after Lightning's set_epoch
        seed = derived_seed(self.seed, self.epoch, _PERMUTATION)
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(seed))
        skip, self.skip = self.skip, 0
        yield from order[self.rank :: self.world_size][skip : len(self)].tolist()

    def __len__(self) -> int:
        return self.n // self.world_size
