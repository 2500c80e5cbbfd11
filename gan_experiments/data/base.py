"""What every DataModule of this project shares: loaders, split sizes, and the shape of its samples.

Batches are ``(samples [N, ...], labels [N])``; unconditional datasets carry label 0.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from gan_experiments.data.images import BAD_IMAGE_POLICIES, drop_unreadable
from gan_experiments.data.loaders import InMemoryDataset, already_batched, make_loader
from gan_experiments.data.sampling import EpochShuffle
from gan_experiments.errors import ConfigError

__all__ = ["DatasetFileError", "DatasetNotFoundError", "GANDataModule", "InMemoryDataset", "already_batched",
           "random_split_indices"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is absent and could not be downloaded; the message says where we looked and what to do."""


class DatasetFileError(DatasetNotFoundError):
    """A dataset file is present but malformed (no usable dataset is there); the message names the file and
    line. A ``DatasetNotFoundError``, so the entry points print it as one ``error:`` line."""


def _batches_already_seen(trainer) -> int:
    """After a resume from a mid-epoch checkpoint, how many batches of that epoch it had trained on; else 0
    (also when the checkpoint was written after the epoch's last batch: Lightning then starts the next
    epoch). Lightning's own ``restarted_mid_epoch`` is set only after the train loader is built."""
    loop = trainer.fit_loop
    epochs, batches = loop.epoch_progress.total, loop.epoch_loop.batch_progress
    if loop.restarting and epochs.processed == epochs.started - 1 and not batches.is_last_batch:
        return batches.current.ready
    return 0


def random_split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed (seeded, run-independent) split of range(n) images into train and validation indices
    (at least one of each); ``ConfigError`` naming ``data.val_fraction`` when that leaves one side empty."""
    if val_fraction <= 0:
        raise ConfigError(f"data.val_fraction={val_fraction} holds out no validation images (the metrics and "
                          "sample callbacks need some); choose a fraction in (0, 1), e.g. 0.05")
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise ConfigError(f"data.val_fraction={val_fraction} holds out all {n_val} of the {n} images for "
                          "validation, leaving none to train on; lower it (or add images)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val:], order[:n_val]


class GANDataModule(LightningDataModule):
    """Base DataModule: subclasses fill ``train_set`` and ``val_set`` in ``setup``.

    Attributes describing the samples, read by networks and callbacks:
    ``sample_shape`` (e.g. (1, 32, 32) or (2,)) and ``num_classes`` (0 when unlabelled).
    """

    sample_shape: tuple[int, ...] = ()
    num_classes: int = 0
    # the training data order's seed (train.py sets the run's seed, or a random one shared by all ranks)
    shuffle_seed: int = 0

    def __init__(self, batch_size: int = 64, num_workers: int = 0, bad_images: str = "skip", check_images: bool = True):
        super().__init__()
        if bad_images not in BAD_IMAGE_POLICIES:
            raise ValueError(f"data.bad_images must be one of {', '.join(BAD_IMAGE_POLICIES)}, got {bad_images!r}")
        self.batch_size, self.num_workers = batch_size, num_workers
        self.bad_images, self.check_images = bad_images, check_images
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    @classmethod
    def check_model_config(cls, cfg: DictConfig) -> None:
        """Raise ``ConfigError`` when the composed config's model cannot train on this kind of data, before
        anything is built or resolved (the default: any model can)."""

    def readable(self, files: list[Path], where: str, **scan) -> list[Path]:
        """``files`` after the ``data.check_images`` scan (``data.bad_images``: skip them or stop); ``scan``:
        ``drop_unreadable``'s ``check``, ``what`` and ``hint``."""
        return drop_unreadable(files, self.bad_images, where, **scan) if self.check_images else list(files)

    def _set_num_classes(self, actual: int, declared: int | None) -> None:
        """Record the dataset's class count; a config that declares another count is an error."""
        if declared is not None and declared != actual:
            raise ValueError(f"data.num_classes={declared}, but this dataset has {actual} classes; remove the override")
        self.num_classes = actual

    def classifier_labels(self) -> tuple[int, bool]:
        """(outputs, multi-label?) of the labels a metrics classifier learns: the classes by default."""
        return self.num_classes, False

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        """(train, validation) datasets of (image, label) for the metrics classifier."""
        return self.train_set, self.val_set

    def _loader(self, dataset: Dataset, sampler: EpochShuffle | None = None, **kwargs) -> DataLoader:
        return make_loader(dataset, self.batch_size, sampler=sampler,
                           generator=sampler.loader_generator if sampler else None, num_workers=self.num_workers,
                           pin_memory=torch.cuda.is_available(), **kwargs)

    def train_dataloader(self) -> DataLoader:
        """Shuffled by ``EpochShuffle`` (order fixed by seed, epoch and rank: exact resume), sharded across
        ranks, full batches only. Workers restart every epoch, so their seeds follow the epoch too. After a
        resume from a mid-epoch (preemption) checkpoint, the epoch goes on with the batches it had not seen."""
        trainer = self.trainer
        world_size = trainer.world_size if trainer else 1
        self._fit_batch_size(world_size)
        sampler = EpochShuffle(len(self.train_set), seed=self.shuffle_seed, world_size=world_size)
        if trainer is not None:
            # the epoch Lightning passes to set_epoch (after a resume, current_epoch still names the last one)
            sampler.rank = trainer.global_rank
            sampler.skip = _batches_already_seen(trainer) * self.batch_size
            sampler.set_epoch(trainer.fit_loop.epoch_progress.current.processed)
        return self._loader(self.train_set, sampler, drop_last=True)

    def _fit_batch_size(self, world_size: int) -> None:
        """Lower ``batch_size`` to the training samples per process where it is larger (full batches only:
        otherwise an epoch would have no batch), with one warning naming ``data.batch_size``."""
        n, per_process = len(self.train_set), len(self.train_set) // world_size
        if self.batch_size <= per_process:
            return
        if per_process == 0:
            raise ConfigError(f"the training set has {n} samples, fewer than the {world_size} processes "
                              "(trainer.devices x trainer.num_nodes); use fewer devices or more data")
        each = f" over {world_size} processes: {per_process} each" if world_size > 1 else ""
        rank_zero_warn(f"data.batch_size={self.batch_size} is larger than the training set ({n} samples{each}); "
                       f"training with batches of {per_process} (set data.batch_size={per_process} or less to "
                       "silence this)")
        self.batch_size = per_process

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, persistent_workers=self.num_workers > 0)
