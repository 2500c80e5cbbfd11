"""Image transforms shared by the image DataModules (torchvision v2): images end as floats in [-1, 1]."""

from __future__ import annotations

import torch
from torchvision.transforms import v2


def to_model_range(channels: int) -> list:
    """PIL/uint8 image -> float tensor [C, H, W] in [-1, 1] (the Tanh range of the generators)."""
    return [
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.5] * channels, [0.5] * channels),
    ]


def to_channels(channels: int):
    """Grayscale <-> RGB conversion so every image has ``channels`` (1 or 3) channels."""
    if channels not in (1, 3):
        raise ValueError(f"data.channels must be 1 or 3, got {channels!r}")
    return v2.Grayscale(1) if channels == 1 else v2.RGB()


def resize_center_crop(image_size: int, channels: int, hflip: bool = False) -> v2.Compose:
    """To ``channels`` channels, shorter side to ``image_size``, centre square crop, optional random
    horizontal flip, to [-1, 1]."""
    steps = [to_channels(channels), v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose(steps + to_model_range(channels))
