"""Features of real images, computed once per extractor and image set and cached on disk.

The cache key hashes the extractor's weights, the exact uint8 images that go in and their labels,
sha256(sha256(fingerprint + images) + sha256(labels)), however they are batched: a changed dataset,
split, sample count, image size or extractor never reuses stale statistics. Only the images are read
again on a cache hit, never the network run. Images are streamed in batches, so a whole training set
(a memorization search, a ``*_full`` protocol) needs only the memory of its features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from gan_experiments.data.loaders import make_loader
from gan_experiments.io import torch_save_atomic
from gan_experiments.metrics.features import FeatureExtractor, to_uint8


@dataclass
class RealFeatures:
    features: torch.Tensor  # [N, d]
    logits: torch.Tensor  # [N, K]
    labels: torch.Tensor  # [N]
    key: str

    def __len__(self) -> int:
        return len(self.features)


def image_batches(dataset: Dataset, n: int | None = None, batch_size: int = 500) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n`` (None: all) images [B, C, H, W] in [-1, 1] and labels [B] of a dataset, in order,
    ``batch_size`` at a time (memory bounded by one batch)."""
    remaining = len(dataset) if n is None else min(n, len(dataset))
    for x, y in make_loader(dataset, batch_size):
        if remaining <= 0:
            return
        yield x[:remaining], torch.as_tensor(y)[:remaining]
        remaining -= len(x)


def first_images(dataset: Dataset, n: int, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images [n, C, H, W] (in [-1, 1]) and labels [n] of a dataset, in order."""
    images, labels = zip(*image_batches(dataset, n, batch_size), strict=True)
    return torch.cat(images), torch.cat(labels)


@torch.no_grad()
def extract(extractor: FeatureExtractor, images: torch.Tensor, device: torch.device | str = "cpu"):
    """Features [N, d] and logits [N, K] of images [N, C, H, W], in batches of ``extractor.batch_size``."""
    extractor = extractor.to(device)
    outputs = [extractor(batch.to(device)) for batch in images.split(extractor.batch_size)]
    return torch.cat([f for f, _ in outputs]).cpu(), torch.cat([lg for _, lg in outputs]).cpu()


def real_features(extractor: FeatureExtractor, dataset: Dataset, n: int | None, cache_dir: str | Path,
                  device: torch.device | str = "cpu") -> RealFeatures:
    """Features of the first ``n`` images of ``dataset`` (None or more than it holds: all of it), from cache
    when possible. Images are read in batches twice at most (once to key the cache, once to extract on a
    miss), so a whole training set fits in the memory of its features."""
    image_digest, label_digest, count = hashlib.sha256(extractor.fingerprint.encode()), hashlib.sha256(), 0
    for images, labels in image_batches(dataset, n):  # the key does not depend on how they are batched
        image_digest.update(to_uint8(images).numpy().tobytes())
        label_digest.update(labels.numpy().tobytes())
        count += len(images)
    key = hashlib.sha256(image_digest.digest() + label_digest.digest()).hexdigest()[:24]
    path = Path(cache_dir).expanduser() / "real_features" / f"{extractor.name}-{count}-{key}.pt"
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return RealFeatures(saved["features"], saved["logits"], saved["labels"], key)
    parts = [(*extract(extractor, images, device), labels) for images, labels in image_batches(dataset, n)]
    features, logits, labels = (torch.cat(column) for column in zip(*parts, strict=True))
    torch_save_atomic({"features": features, "logits": logits, "labels": labels}, path)
    return RealFeatures(features, logits, labels, key)
