"""Fully connected networks of the original GAN (Goodfellow et al. 2014), also used for 2-D toy data.

Generator: z [N, Z] -> (Linear + BatchNorm + ReLU) per hidden width -> Linear -> Tanh/Sigmoid/none
-> reshape to ``output_shape`` (e.g. [N, 1, 28, 28], or [N, 2] for toy data).
Discriminator: flatten -> (Linear + LeakyReLU(0.2)) per hidden width -> Linear -> raw logits [N].
With ``num_classes = K > 0`` both take a one-hot class vector concatenated to their input (cGAN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gan_experiments.networks.layers import activation, concat_one_hot


class MLPGenerator(nn.Module):
    """z [N, latent_dim] (+ labels [N]) -> samples [N, *output_shape]."""

    def __init__(
        self,
        output_shape: Sequence[int],
        latent_dim: int = 100,
        hidden_dims: Sequence[int] = (256, 512, 1024),
        batch_norm: bool = True,
        output_activation: str = "tanh",
        num_classes: int = 0,
    ):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.output_shape = tuple(output_shape)
        layers: list[nn.Module] = []
        width = latent_dim + num_classes
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden) if batch_norm else nn.Identity(), nn.ReLU(True)]
            width = hidden
        layers += [nn.Linear(width, math.prod(self.output_shape)), activation(output_activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape [N, {self.latent_dim}], got {list(z.shape)}")
        return self.net(concat_one_hot(z, labels, self.num_classes)).view(-1, *self.output_shape)


class MLPDiscriminator(nn.Module):
    """samples [N, *input_shape] (+ labels [N]) -> raw logits [N]."""

    def __init__(self, input_shape: Sequence[int], hidden_dims: Sequence[int] = (512, 256), num_classes: int = 0):
        super().__init__()
        self.input_shape, self.num_classes = tuple(input_shape), num_classes
        layers: list[nn.Module] = []
        width = math.prod(self.input_shape) + num_classes
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, True)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"inputs must have shape [N, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}")
        return self.net(concat_one_hot(x.flatten(1), labels, self.num_classes)).flatten()
