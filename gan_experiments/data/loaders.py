"""The one place a DataLoader is built (DataModules, callbacks, metrics): ``make_loader`` collates in-memory
datasets by their own batched ``__getitems__`` and turns a ``seed`` into the shuffle's generator."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset


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


def already_batched(batch):
    """The ``collate_fn`` of a DataLoader over an ``InMemoryDataset``: its ``__getitems__`` already returns
    the batch (samples [B, ...], labels [B]), so there is nothing to collate."""
    return batch


def fetches_batches(dataset: Dataset) -> bool:
    """True for an ``InMemoryDataset``, also through ``Subset``s (whose ``__getitems__`` defers to it)."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, InMemoryDataset)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int | None = None,
                collate_fn=None, **kwargs: Any) -> DataLoader:
    """A DataLoader of ``batch_size`` batches, in order unless ``shuffle``.

    ``seed``: the shuffle order (and the workers' seeds) comes from ``torch.Generator().manual_seed(seed)``;
    None draws it from torch's global generator, as DataLoader does. ``collate_fn``: None collates an
    in-memory dataset with ``already_batched`` and anything else with torch's default. ``kwargs`` go to
    DataLoader as they are (``sampler``, ``generator``, ``num_workers``, ``drop_last``, ...)."""
    if seed is not None:
        kwargs["generator"] = torch.Generator().manual_seed(seed)
    if collate_fn is None and fetches_batches(dataset):
        collate_fn = already_batched
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn, **kwargs)
