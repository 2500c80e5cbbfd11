"""Random streams as a function of (seed, epoch, rank): exact resume, and different latents per rank."""

from __future__ import annotations

import random

import numpy as np
import torch
from lightning import Callback, LightningModule, Trainer

from gan_experiments.data.sampling import derived_seed


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device) without touching ``PL_GLOBAL_SEED``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class EpochSeed(Callback):
    """At the start of epoch e on rank r, seed python, numpy and torch with ``derived_seed(seed, e, r)``.

    - Exact resume: a checkpoint restores weights, optimizers and counters but not the RNG streams; with
      every epoch starting from a seed of its own, epochs 3-4 draw the same z, noise, dropout masks and
      image-pool choices whether or not the run stopped after epoch 2 (data order: ``EpochShuffle``).
    - Distributed ranks draw different z (instead of generating the same fakes from identical states);
      weights stay identical across ranks (DDP broadcasts rank 0's at start and all-reduces gradients).

    Checkpoints also store the RNG states. A single-process resume from a mid-epoch checkpoint
    (``PreemptionCheckpoint``) restores them at the start of training; with ``data.num_workers=0`` such a
    resume is exact too (workers restart, so their augmentation draws are not; under DDP the checkpoint
    holds rank 0's states only, and the ranks continue from fresh epoch seeds at the next epoch).
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._restored: dict | None = None

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seed_all(derived_seed(self.seed, trainer.current_epoch, trainer.global_rank))

    def state_dict(self) -> dict:
        """python, numpy, torch CPU and CUDA generator states (tensors and plain values: weights_only loads)."""
        _, keys, position, has_gauss, cached = np.random.get_state()
        return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": (torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)),
                "python": random.getstate()}

    def load_state_dict(self, state: dict) -> None:
        self._restored = state

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a resume from a mid-epoch checkpoint (Lightning then skips ``on_train_epoch_start``): one
        process gets the saved states back; DDP ranks (the checkpoint holds rank 0's) get streams of their
        own from (seed, epoch, rank, step)."""
        restored, self._restored = self._restored, None
        if restored is None or not trainer.fit_loop.restarted_mid_epoch:
            return
        if trainer.world_size > 1:
            seed_all(derived_seed(self.seed, trainer.current_epoch, trainer.global_rank, trainer.global_step))
            return
        keys, position, has_gauss, cached = restored["numpy"]
        np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, cached))
        torch.set_rng_state(restored["torch"])
        if restored["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(restored["cuda"])
        random.setstate(restored["python"])
