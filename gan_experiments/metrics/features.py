"""Feature extractors for FID, KID, IS and precision/recall: InceptionV3 (the paper protocol) or a
classifier trained on the dataset's own labels.

Every extractor takes generator-range images [N, C, H, W] in [-1, 1] and returns
``(features [N, num_features], logits [N, num_logits])`` in float32, computed in fp32 outside autocast.
``name`` and ``fingerprint`` say exactly which network produced a number (cache keys, reports).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 [0, 255], rounded as when saving a PNG (not truncated)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5 + 0.5).floor().to(torch.uint8)


def state_fingerprint(module: nn.Module) -> str:
    """A short hash of a module's weights (what makes cached statistics belong to it)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class FeatureExtractor(nn.Module):
    """Base class: subclasses set ``name``, ``num_features`` and implement ``extract`` on uint8 or float input."""

    name: str = "?"
    num_features: int = 0
    multilabel: bool = False  # logits are independent attributes, not one class distribution
    batch_size: int = 50  # images per forward pass when extracting many (memory bound)
    _fingerprint: str | None = None  # computed on first use (the weights are loaded by then)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:  # a new module starts in training mode: no dropout or batch statistics here
            self.eval()
        with torch.autocast(images.device.type, enabled=False), torch.no_grad():
            features, logits = self.extract(images.float())
        return features.float(), logits.float()

    def extract(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def train(self, mode: bool = True):
        return super().train(False)  # feature extractors never leave evaluation mode

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = f"{self.name}-{state_fingerprint(self)}"
        return self._fingerprint


def hub_weights(file_name: str) -> Path:
    """Where torch.hub (torch-fidelity, torchmetrics, torchvision) keeps a weights file: its cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def default_inception_weights() -> Path:
    return hub_weights(INCEPTION_WEIGHTS_FILE)


def find_weights(path: str | None, file_name: str, option: str) -> Path | None:
    """``path`` if given (it must exist), else the torch hub cache's ``file_name`` if present, else None."""
    if path:
        weights = Path(os.path.expanduser(path))
        if not weights.is_file():
            raise FileNotFoundError(f"metrics.{option}={weights} does not exist; point it to {file_name} "
                                    "(or set it to null to use the torch hub cache)")
        return weights
    cached = hub_weights(file_name)
    return cached if cached.is_file() else None


class InceptionFeatures(FeatureExtractor):
    """torch-fidelity's InceptionV3 (2015-12-05 TF weights) through torchmetrics' ``NoTrainInceptionV3``, with
    the FID paper protocol: uint8 RGB input, TF1-style bilinear resize to 299 (``antialias=False``),
    2048-d pool features; IS uses the 1008 ``logits_unbiased``. Grayscale images are repeated to RGB."""

    name = "inception"
    num_features = 2048
    batch_size = 50  # 299 px on CPU: ~4 GB peak at 50 images (DESIGN.md)

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(weights_path),
            antialias=False,
        )

    def extract(self, images):
        rgb = to_uint8(images)
        if rgb.shape[1] == 1:
            rgb = rgb.expand(-1, 3, -1, -1)
        pool, logits = self.net._torch_fidelity_forward(rgb)
        return pool, logits


class ClassifierFeatures(FeatureExtractor):
    """A classifier trained on the dataset's labels (``metrics.features=classifier``): its penultimate layer
    gives the features, its logits the IS class probabilities (not for a multi-label, attribute classifier:
    IS needs one class per image). Inputs are quantized to uint8 levels like Inception's."""

    name = "classifier"
    batch_size = 500

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features
        self.multilabel = classifier.multilabel

    def extract(self, images):
        quantized = to_uint8(images).float() / 127.5 - 1
        return self.classifier.features_and_logits(quantized)


VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"  # torchvision's ImageNet VGG-16


class VGG16Features(FeatureExtractor):
    """VGG-16's fc2 activations (4096-d, after its ReLU), the feature space of improved precision/recall
    (Kynkäänniemi et al. 2019; NVlabs ``pr50k3``). torchvision's ImageNet weights (``vgg16-397923af.pth``),
    not the exact TF-converted network of the authors' code: numbers are close to, not identical with,
    published ones. Input: uint8-quantized RGB, bilinear resize to 224, ImageNet mean/std. No logits."""

    name = "vgg16"
    num_features = 4096
    batch_size = 50
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchvision.models import vgg16

        net = vgg16(weights=None)
        net.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        self.features, self.avgpool, self.fc = net.features, net.avgpool, net.classifier[:5]  # fc1 ReLU drop fc2 ReLU
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1))

    def extract(self, images):
        x = to_uint8(images).float() / 255
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
        h = self.fc(torch.flatten(self.avgpool(self.features((x - self.mean) / self.std)), 1))
        return h, h[:, :0]
