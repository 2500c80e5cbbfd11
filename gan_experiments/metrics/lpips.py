"""LPIPS with a VGG-16 backbone (Zhang et al. 2018), the perceptual distance of the perceptual path length.

    d(x0, x1) = sum_l 1 / (H_l W_l) sum_{h,w} || w_l ⊙ (ŷ0_l[h,w] - ŷ1_l[h,w]) ||²        (Zhang et al., eq. 1)

ŷ_l [N, C_l, H_l, W_l]: VGG-16's relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 activations of the input
(shifted and scaled by LPIPS' ``ScalingLayer``), unit-normalized over channels; w_l [C_l]: LPIPS' learned
linear weights (the 1x1 convolutions ``lin0`` ... ``lin4``).

The parts: torchmetrics' ``_LPIPS`` (the richzhang/PerceptualSimilarity network) with its packaged linear
weights (``torchmetrics/functional/image/lpips_models/vgg.pth``, LPIPS v0.1), and torchvision's ImageNet VGG-16
(``vgg16-397923af.pth``) as the backbone, found like the precision/recall VGG-16 (``metrics.vgg16_weights``,
the torch hub cache, or a download of ``metrics.vgg16_url``): torchmetrics would fetch it from the internet
itself. NVlabs' stylegan2-ada-pytorch uses its own TorchScript export of the same LPIPS VGG (``vgg16.pt``,
converted from the TF original): this is the standard PyTorch equivalent (the same architecture and
linear weights, torchvision's backbone weights), so numbers are close to, not identical with, NVlabs'.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from gan_experiments.errors import ConfigError
from gan_experiments.metrics.features import VGG16_WEIGHTS_FILE, state_fingerprint
from gan_experiments.metrics.inception_download import VGG16_URL, expected_hash_prefix
from gan_experiments.metrics.select import weights_for

# torchvision's vgg16().features indices in each LPIPS slice (ending at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3)
SLICES = (range(0, 4), range(4, 9), range(9, 16), range(16, 23), range(23, 30))


def backbone_state(vgg16_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's VGG-16 state (``features.{i}.weight`` ...; the classifier is dropped) renamed for LPIPS'
    ``Vgg16`` (``slice{k}.{i}.weight``: the layers keep their torchvision index inside their slice)."""
    renamed = {}
    for key, tensor in vgg16_state.items():
        part, _, rest = key.partition(".")
        if part != "features":
            continue
        index = int(rest.split(".")[0])
        k = next(k for k, layers in enumerate(SLICES, 1) if index in layers)
        renamed[f"slice{k}.{rest}"] = tensor.float()
    return renamed


def weights_verified(path: str | Path) -> bool:
    """Whether ``path`` is torchvision's real VGG-16 file: its SHA-256 starts with the prefix in that file's
    name (``vgg16-397923af.pth``), the check torch.hub makes on download."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest().startswith(expected_hash_prefix(VGG16_URL))


class LPIPSDistance(nn.Module):
    """LPIPS (VGG-16) between two image batches x0, x1 [N, C, H, W] in [-1, 1] -> d [N] (float32, no
    gradients, always in eval mode); C = 1 is repeated to RGB. ``weights_path``: torchvision's VGG-16 state
    dict (the classifier part is ignored)."""

    name = "lpips-vgg16"

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchmetrics.functional.image.lpips import _NoTrainLpips

        # pnet_rand: torchmetrics builds a random backbone instead of downloading one; ours is loaded below
        self.lpips = _NoTrainLpips(pretrained=True, net="vgg", pnet_rand=True)
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        try:
            self.lpips.net.load_state_dict(backbone_state(state))
        except (RuntimeError, AttributeError, ValueError) as err:
            raise ConfigError(f"metrics.vgg16_weights={weights_path} is not torchvision's VGG-16 state dict "
                              f"({VGG16_WEIGHTS_FILE}): {str(err).splitlines()[0]}") from err
        self.weights_path = str(weights_path)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        if x0.shape != x1.shape or x0.ndim != 4:
            raise ValueError(f"LPIPS compares two [N, C, H, W] batches of one shape, got {list(x0.shape)} and "
                             f"{list(x1.shape)}")
        if x0.shape[1] == 1:
            x0, x1 = x0.expand(-1, 3, -1, -1), x1.expand(-1, 3, -1, -1)
        with torch.autocast(x0.device.type, enabled=False), torch.no_grad():
            return self.lpips(x0.float(), x1.float()).flatten()

    def train(self, mode: bool = True):
        return super().train(False)

    @property
    def fingerprint(self) -> str:
        return f"{self.name}-{state_fingerprint(self)}"


def lpips_distance(vgg16_weights: str | None, vgg16_url: str | None = VGG16_URL) -> LPIPSDistance:
    """The LPIPS VGG-16 distance with torchvision's backbone from ``metrics.vgg16_weights`` (a path), the
    torch hub cache, or a download of ``metrics.vgg16_url``; a ConfigError naming the key when none is."""
    weights, why_not = weights_for(vgg16_weights, vgg16_url, VGG16_WEIGHTS_FILE, "vgg16_weights")
    if weights is None:
        raise ConfigError(f"the perceptual path length's LPIPS distance needs torchvision's VGG-16 weights "
                          f"{VGG16_WEIGHTS_FILE}: {why_not}; set metrics.vgg16_weights=PATH")
    return LPIPSDistance(weights)
