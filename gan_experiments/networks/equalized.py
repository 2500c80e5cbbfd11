"""Equalized learning rate layers (Karras et al. 2018, ProGAN sec. 4.1), used by StyleGAN.

Weights are stored as w ~ N(0, 1 / lr_mul^2) and scaled at run time by c = gain / sqrt(fan_in) * lr_mul,
so every layer's effective weight c·w has He-initialization scale and Adam updates every layer at the
same relative speed; ``lr_mul`` < 1 also lowers the layer's effective learning rate (StyleGAN's mapping
network uses 0.01). Biases are stored divided by lr_mul and multiplied back.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2)


class EqualizedLinear(nn.Module):
    """[N, in_features] -> [N, out_features]: x (c·W)^T + lr_mul·b."""

    def __init__(self, in_features: int, out_features: int, gain: float = LRELU_GAIN, lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
        self.scale, self.lr_mul = gain / math.sqrt(in_features) * lr_mul, lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualizedConv2d(nn.Module):
    """[N, in_channels, H, W] -> [N, out_channels, H, W] ('same' padding), weights scaled by c at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = LRELU_GAIN):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)


class PixelNorm(nn.Module):
    """x / sqrt(mean_c(x^2) + eps), per sample and pixel (ProGAN sec. 4.2; StyleGAN normalizes z with it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)
