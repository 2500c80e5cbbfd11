"""The project's own domain classifier: trained on a dataset's labels, cached, used as a feature extractor.

This is the "FID with a LeNet" practice of the MNIST GAN literature: where InceptionV3 weights are absent
(or meaningless, as for 32x32 digits), a classifier of the dataset's own classes gives the features for
FID/KID/precision/recall (its penultimate layer) and the class probabilities for IS.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_experiments.data.loaders import make_loader
from gan_experiments.io import torch_save_atomic
from gan_experiments.training.classifier import fit_classifier

CLASSIFIER_VERSION = 2  # bump when the architecture or training recipe changes: old caches stop matching


class DomainClassifier(nn.Module):
    """LeNet-style CNN: images [N, C, S, S] in [-1, 1] -> features [N, num_features] -> logits [N, K].

    K classes (one label per image, cross-entropy) or, with ``multilabel``, K binary attributes (CelebA's
    40, binary cross-entropy).

    Two 5x5 conv + ReLU + 2x2 max-pool stages (16 and 32 channels), adaptive average pooling to 4x4, a
    ``num_features``-wide ReLU layer (the features), and a linear layer to the K class logits.
    """

    def __init__(self, channels: int, num_classes: int, num_features: int = 128, multilabel: bool = False):
        super().__init__()
        self.channels, self.num_classes, self.num_features = channels, num_classes, num_features
        self.multilabel = multilabel
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
    """Identifies a labelled dataset as a DataModule presents it to the classifier: class, sample shape,
    labels, split sizes and the content of the first 256 validation samples (no augmentation there)."""
    datamodule.setup("fit")
    train, val = datamodule.classifier_splits()
    images, labels = zip(*(val[i] for i in range(min(256, len(val)))), strict=True)
    digest = hashlib.sha256()
    for part in (type(datamodule).__name__, datamodule.sample_shape, datamodule.classifier_labels(),
                 len(train), len(val), CLASSIFIER_VERSION):
        digest.update(repr(part).encode())
    digest.update(torch.stack(images).numpy().tobytes())
    digest.update(torch.stack([torch.as_tensor(y) for y in labels]).numpy().tobytes())
    return digest.hexdigest()[:16]


def predictions(classifier: DomainClassifier, logits: torch.Tensor) -> torch.Tensor:
    """Class indices [N], or attribute indicators [N, K] for a multi-label classifier."""
    return (logits > 0).long() if classifier.multilabel else logits.argmax(1)


@torch.no_grad()
def accuracy(classifier: DomainClassifier, dataset, batch_size: int = 512) -> float:
    """Share of correct labels (of correct attributes, averaged, for a multi-label classifier)."""
    classifier.eval()
    correct = total = 0
    for images, labels in make_loader(dataset, batch_size):
        hits = predictions(classifier, classifier(images)) == labels
        correct += hits.sum().item()
        total += hits.numel()
    return correct / total


def loss_fn(classifier: DomainClassifier, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if classifier.multilabel:
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels)


def train_classifier(datamodule, steps: int = 600, batch_size: int = 128, lr: float = 1e-3, seed: int = 0):
    """Adam on (binary) cross-entropy for ``steps`` batches of the training split; returns
    (classifier, validation accuracy)."""
    datamodule.setup("fit")
    outputs, multilabel = datamodule.classifier_labels()
    train_set, val_set = datamodule.classifier_splits()
    if not outputs:
        raise ValueError(
            f"{type(datamodule).__name__} has no labels, so no classifier can be trained for its metrics; "
            "use metrics.features=inception with metrics.inception_weights=PATH"
        )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = DomainClassifier(datamodule.sample_shape[0], outputs, multilabel=multilabel)
        batches = itertools.chain.from_iterable(
            make_loader(train_set, batch_size, shuffle=True) for _ in itertools.count()
        )
        fit_classifier(classifier, batches, steps, functools.partial(loss_fn, classifier), lr,
                       description="training the metrics classifier")
    return classifier.eval(), accuracy(classifier, val_set)


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
            "multilabel": classifier.multilabel,
            "val_accuracy": val_accuracy,
            "steps": steps,
        }
        torch_save_atomic(saved, path)
    classifier = DomainClassifier(saved["channels"], saved["num_classes"], saved["num_features"], saved["multilabel"])
    classifier.load_state_dict(saved["state_dict"])
    info = {"path": str(path), "val_accuracy": saved["val_accuracy"], "steps": saved["steps"],
            "multilabel": saved["multilabel"]}
    return classifier.eval(), info
