"""What every DataModule of this project shares: loaders, split sizes, and the shape of its samples.

Batches are ``(samples [N, ...], labels [N])``; unconditional datasets carry label 0.
"""

from __future__ import annotations

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is absent and could not be downloaded; the message says where we looked and what to do."""


class InMemoryDataset(Dataset):
    """Tensors held in memory, fetched a whole batch at a time (``__getitems__``): [N, ...] and labels [N]."""

    def __init__(self, samples: torch.Tensor, labels: torch.Tensor):
        if len(samples) != len(labels):
            raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
        self.samples, self.labels = samples, labels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.samples[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices)
        return self.samples[index], self.labels[index]


def _already_batched(batch):
    return batch


def random_split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed (seeded, run-independent) split of range(n) into train and validation indices."""
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise ValueError(f"cannot split {n} samples with val_fraction={val_fraction}: nothing left to train on")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val:], order[:n_val]


class GANDataModule(LightningDataModule):
    """Base DataModule: subclasses fill ``train_set`` and ``val_set`` in ``setup``.

    Attributes describing the samples, read by networks and callbacks:
    ``sample_shape`` (e.g. (1, 32, 32) or (2,)) and ``num_classes`` (0 when unlabelled).
    """

    sample_shape: tuple[int, ...] = ()
    num_classes: int = 0

    def __init__(self, batch_size: int = 64, num_workers: int = 0):
        super().__init__()
        self.batch_size, self.num_workers = batch_size, num_workers
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

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

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=_already_batched if isinstance(dataset, InMemoryDataset) else None,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        if len(self.train_set) < self.batch_size:
            raise ValueError(
                f"data.batch_size={self.batch_size} is larger than the training set ({len(self.train_set)} samples)"
            )
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)
