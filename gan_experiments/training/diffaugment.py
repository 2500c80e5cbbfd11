"""Differentiable augmentation for data-efficient GAN training (Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training").

The discriminator only ever sees augmented images, real and fake alike: its loss uses D(T(x)) and
D(T(G(z))), and the generator's uses D(T(G(z))). T is differentiable, so G's gradients flow through it;
augmenting reals only would teach G to produce augmented-looking images instead. Every call draws fresh
random parameters per sample. Policies (images [N, C, H, W] in [-1, 1]):

- ``color``: brightness x + b, b ~ U(-0.5, 0.5); saturation (x - mean_c) * s + mean_c, s ~ U(0, 2)
  (mean over channels; a no-op on one channel); contrast (x - mean) * c + mean, c ~ U(0.5, 1.5) (mean over
  all pixels of the image).
- ``translation``: shift by integers in [-H/8, H/8] x [-W/8, W/8], zero-filled.
- ``cutout``: zero one square of half the image's side at a random position (it may cross the border).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POLICIES = ("color", "translation", "cutout")


def _uniform(n: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(n, 1, 1, 1, device=like.device, dtype=like.dtype).uniform_(low, high)


def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + _uniform(n, -0.5, 0.5, x)
    channel_mean = x.mean(dim=1, keepdim=True)
    x = (x - channel_mean) * _uniform(n, 0.0, 2.0, x) + channel_mean
    image_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - image_mean) * _uniform(n, 0.5, 1.5, x) + image_mean


def _pixel_grid(n: int, h: int, w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (align_corners=False) x and y coordinates of every pixel centre, [n, h, w] each."""
    ys = (torch.arange(h, device=like.device, dtype=like.dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=like.device, dtype=like.dtype) * 2 + 1) / w - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return grid_x.expand(n, h, w), grid_y.expand(n, h, w)


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_y = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=x.device).to(x.dtype)
    shift_x = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=x.device).to(x.dtype)
    grid_x, grid_y = _pixel_grid(n, h, w, x)
    # output pixel p reads input pixel p - shift: exact integer moves with nearest sampling, zeros outside
    grid = torch.stack((grid_x - 2 * shift_x / w, grid_y - 2 * shift_y / h), dim=-1)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device) - size_y // 2
    left = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device) - size_x // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


class DiffAugment(nn.Module):
    """T(x): the ``policy``'s augmentations in order, fresh random parameters per sample and call."""

    def __init__(self, policy: list[str] | tuple[str, ...] = POLICIES):
        super().__init__()
        unknown = [p for p in policy if p not in POLICIES]
        if unknown or not policy:
            raise ValueError(f"model.diffaugment must list some of {', '.join(POLICIES)}, got {list(policy)}")
        self.policy = tuple(policy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"DiffAugment augments images [N, C, H, W], got a batch of shape {tuple(x.shape)}")
        steps = {"color": color, "translation": translation, "cutout": cutout}
        for name in self.policy:
            x = steps[name](x)
        return x

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)}"
