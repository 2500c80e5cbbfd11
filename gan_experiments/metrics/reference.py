"""Features of real images, computed once per extractor and image set and cached on disk.

The cache key hashes the extractor's weights and the exact uint8 images that go in (so a changed dataset,
split, sample count, image size or extractor never reuses stale statistics); only the images are read
again on a cache hit, never the network run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from gan_experiments.metrics.features import FeatureExtractor, to_uint8


@dataclass
class RealFeatures:
    features: torch.Tensor  # [N, d]
    logits: torch.Tensor  # [N, K]
    labels: torch.Tensor  # [N]
    key: str

    def __len__(self) -> int:
        return len(self.features)


def first_images(dataset: Dataset, n: int, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images [n, C, H, W] (in [-1, 1]) and labels [n] of a dataset, in order."""
    from gan_experiments.data.base import InMemoryDataset, _already_batched

    collate = _already_batched if isinstance(dataset, InMemoryDataset) else None
    images, labels, count = [], [], 0
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate):
        images.append(x)
        labels.append(torch.as_tensor(y))
        count += len(x)
        if count >= n:
            break
    return torch.cat(images)[:n], torch.cat(labels)[:n]


@torch.no_grad()
def extract(extractor: FeatureExtractor, images: torch.Tensor, device: torch.device | str = "cpu"):
    """Features [N, d] and logits [N, K] of images [N, C, H, W], in batches of ``extractor.batch_size``."""
    extractor = extractor.to(device)
    outputs = [extractor(batch.to(device)) for batch in images.split(extractor.batch_size)]
    return torch.cat([f for f, _ in outputs]).cpu(), torch.cat([lg for _, lg in outputs]).cpu()


def real_features(extractor: FeatureExtractor, dataset: Dataset, n: int, cache_dir: str | Path,
                  device: torch.device | str = "cpu") -> RealFeatures:
    """Features of the first ``n`` images of ``dataset`` (fewer if it is smaller), from cache when possible."""
    images, labels = first_images(dataset, n)
    digest = hashlib.sha256(extractor.fingerprint.encode())
    digest.update(to_uint8(images).numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    key = digest.hexdigest()[:24]
    path = Path(cache_dir).expanduser() / "real_features" / f"{extractor.name}-{len(images)}-{key}.pt"
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return RealFeatures(saved["features"], saved["logits"], saved["labels"], key)
    features, logits = extract(extractor, images, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"features": features, "logits": logits, "labels": labels}, tmp)
    tmp.replace(path)
    return RealFeatures(features, logits, labels, key)
