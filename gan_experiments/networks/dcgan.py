"""DCGAN networks (Radford et al. 2016), sized by the image size, optionally class-conditional.

Generator: z [N, Z] -> ConvT 4x4 to [N, 8·ngf', 4, 4] -> (ConvT stride 2 + BN + ReLU) x k -> ConvT + Tanh
-> [N, C, S, S], with k = log2(S) - 3 (S = 64 gives the paper's 4 -> 8 -> 16 -> 32 -> 64).
Discriminator: the mirror: strided 4x4 convolutions with LeakyReLU(0.2), normalization on every layer but
the input layer, down to 4x4, then a 4x4 convolution to one raw logit per image, [N].

Options for any loss: ``spectral_norm`` (Miyato et al. 2018) on every discriminator layer, and a
``minibatch_std`` channel (Karras et al. 2018) before the last discriminator convolution.

Conditioning (cGAN, Mirza & Osindero 2014): with ``num_classes = K > 0`` the generator input is
concat(z, one_hot(y)) and the discriminator input is concat(x, K constant one-hot class maps).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_experiments.networks.layers import (
    MinibatchStdDev,
    concat_class_maps,
    concat_one_hot,
    init_normal_,
    norm_2d,
    spectral_norm_,
)


def _check_image_size(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and ``image_size``; it must be a power of two >= 8."""
    if not isinstance(image_size, int) or image_size < 8 or image_size & (image_size - 1):
        raise ValueError(
            f"DCGAN networks need image_size to be a power of two >= 8 (8, 16, 32, 64, ...), got {image_size!r}; "
            "set data.image_size accordingly"
        )
    return int(math.log2(image_size)) - 2


class DCGANGenerator(nn.Module):
    """z [N, latent_dim] (+ labels [N]) -> images [N, channels, image_size, image_size] in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        base_channels: int = 64,
        max_channels: int = 512,
        num_classes: int = 0,
        norm: str = "batch",
        init_std: float = 0.02,
    ):
        super().__init__()
        stages = _check_image_size(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.output_shape = (channels, image_size, image_size)
        widths = [min(base_channels * 2 ** (stages - 1 - i), max_channels) for i in range(stages)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + num_classes, widths[0], 4, 1, 0, bias=norm == "none"),
            norm_2d(norm, widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), norm_2d(norm, c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_normal_(self, init_std)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape [N, {self.latent_dim}], got {list(z.shape)}")
        h = concat_one_hot(z, labels, self.num_classes)
        return self.net(h[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """images [N, channels, image_size, image_size] (+ labels [N]) -> raw logits [N]."""

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        base_channels: int = 64,
        max_channels: int = 512,
        num_classes: int = 0,
        norm: str = "batch",
        init_std: float = 0.02,
        spectral_norm: bool = False,
        minibatch_std: bool = False,
    ):
        super().__init__()
        stages = _check_image_size(image_size)
        self.num_classes = num_classes
        self.input_shape = (channels, image_size, image_size)
        widths = [min(base_channels * 2**i, max_channels) for i in range(stages)]
        layers: list[nn.Module] = [nn.Conv2d(channels + num_classes, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), norm_2d(norm, c_out), nn.LeakyReLU(0.2, True)]
        if minibatch_std:
            layers.append(MinibatchStdDev())
        layers += [nn.Conv2d(widths[-1] + minibatch_std, 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        init_normal_(self, init_std)
        if spectral_norm:
            spectral_norm_(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}")
        return self.net(concat_class_maps(x, labels, self.num_classes)).flatten()
