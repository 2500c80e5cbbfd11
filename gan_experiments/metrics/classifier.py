"""The project's own domain classifier: trained on a dataset's labels, cached, used as a feature extractor.

This is the "FID with a LeNet" practice of the MNIST GAN literature: where InceptionV3 weights are absent
(or meaningless, as for 32x32 digits), a classifier of the dataset's own classes gives the features for
FID/KID/precision/recall (its penultimate layer) and the class probabilities for IS.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import track
from torch import nn
from torch.utils.data import DataLoader

CLASSIFIER_VERSION = 1  # bump when the architecture or training recipe changes: old caches stop matching


class DomainClassifier(nn.Module):
    """LeNet-style CNN: images [N, C, S, S] in [-1, 1] -> features [N, num_features] -> logits [N, K].

    Two 5x5 conv + ReLU + 2x2 max-pool stages (16 and 32 channels), adaptive average pooling to 4x4, a
    ``num_features``-wide ReLU layer (the features), and a linear layer to the K class logits.
    """

    def __init__(self, channels: int, num_classes: int, num_features: int = 128):
        super().__init__()
        self.channels, self.num_classes, self.num_features = channels, num_classes, num_features
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        self.embed = nn.Sequential(nn.Linear(32 * 16, num_features), nn.ReLU(True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(num_features, num_classes))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.embed(self.body(x))
        return features, self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def data_fingerprint(datamodule) -> str:
    """Identifies a labelled dataset as a DataModule presents it: class, sample shape, classes, split
    sizes and the content of the first 256 validation samples (deterministic: no augmentation there)."""
    datamodule.setup("fit")
    val = datamodule.val_set
    images, labels = zip(*(val[i] for i in range(min(256, len(val)))), strict=True)
    digest = hashlib.sha256()
    for part in (type(datamodule).__name__, datamodule.sample_shape, datamodule.num_classes,
                 len(datamodule.train_set), len(val), CLASSIFIER_VERSION):
        digest.update(repr(part).encode())
    digest.update(torch.stack(images).numpy().tobytes())
    digest.update(torch.as_tensor(labels).numpy().tobytes())
    return digest.hexdigest()[:16]


def _loader(dataset, batch_size: int, shuffle: bool) -> DataLoader:
    from gan_experiments.data.base import InMemoryDataset, _already_batched

    batched = isinstance(dataset, InMemoryDataset)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=_already_batched if batched else None)


@torch.no_grad()
def accuracy(classifier: DomainClassifier, dataset, batch_size: int = 512) -> float:
    classifier.eval()
    correct = total = 0
    for images, labels in _loader(dataset, batch_size, shuffle=False):
        correct += (classifier(images).argmax(1) == labels).sum().item()
        total += len(labels)
    return correct / total


def train_classifier(datamodule, steps: int = 600, batch_size: int = 128, lr: float = 1e-3, seed: int = 0):
    """Adam on cross-entropy for ``steps`` batches of the training split; returns (classifier, val accuracy)."""
    datamodule.setup("fit")
    if not datamodule.num_classes:
        raise ValueError(
            f"{type(datamodule).__name__} has no labels, so no classifier can be trained for its metrics; "
            "use metrics.features=inception with metrics.inception_weights=PATH"
        )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = DomainClassifier(datamodule.sample_shape[0], datamodule.num_classes)
        optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
        batches = itertools.chain.from_iterable(
            _loader(datamodule.train_set, batch_size, shuffle=True) for _ in itertools.count()
        )
        classifier.train()
        for images, labels in track(itertools.islice(batches, steps), total=steps,
                                    description="training the metrics classifier"):
            loss = F.cross_entropy(classifier(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return classifier.eval(), accuracy(classifier, datamodule.val_set)


def load_or_train_classifier(datamodule, cache_dir: str | Path, steps: int = 600) -> tuple[DomainClassifier, dict]:
    """The cached classifier of this dataset, trained (and cached) first if there is none."""
    path = Path(cache_dir).expanduser() / "classifiers" / f"{data_fingerprint(datamodule)}.pt"
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
    else:
        classifier, val_accuracy = train_classifier(datamodule, steps=steps)
        saved = {
            "state_dict": classifier.state_dict(),
            "channels": classifier.channels,
            "num_classes": classifier.num_classes,
            "num_features": classifier.num_features,
            "val_accuracy": val_accuracy,
            "steps": steps,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(saved, tmp)
        tmp.replace(path)
    classifier = DomainClassifier(saved["channels"], saved["num_classes"], saved["num_features"])
    classifier.load_state_dict(saved["state_dict"])
    info = {"path": str(path), "val_accuracy": saved["val_accuracy"], "steps": saved["steps"]}
    return classifier.eval(), info
