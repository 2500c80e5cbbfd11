"""Different random streams per rank, so distributed ranks do not draw the same latents."""

from __future__ import annotations

import lightning as L
from lightning import Callback, LightningModule, Trainer


class PerRankSeed(Callback):
    """When training starts on more than one process, re-seed python, numpy and torch on rank r with
    ``seed + r``: every rank then samples its own z (and dropout, image-pool draws, ...), instead of all
    ranks generating the same fakes from identical RNG states. Weights stay identical across ranks (DDP
    broadcasts rank 0's at start and all-reduces gradients); a single process keeps ``seed`` unchanged."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.world_size > 1:
            L.seed_everything(self.seed + trainer.global_rank, workers=True, verbose=False)
