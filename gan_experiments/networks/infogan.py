"""InfoGAN discriminator (Chen et al. 2016): a DCGAN discriminator trunk shared by the real/fake head D
and the auxiliary head Q that predicts the latent codes c from an image.

Shapes: images [N, C, S, S] -> trunk features [N, F, 4, 4] -> D: raw logits [N];
Q: categorical code logits [N, categorical] and continuous code means [N, continuous].
"""

from __future__ import annotations

import torch
from torch import nn

from gan_experiments.networks.dcgan import DCGANDiscriminator
from gan_experiments.networks.layers import init_normal_


class InfoGANDiscriminator(nn.Module):
    def __init__(self, image_size: int = 32, channels: int = 1, base_channels: int = 64, max_channels: int = 512,
                 norm: str = "batch", categorical: int = 10, continuous: int = 2, q_hidden: int = 128,
                 init_std: float = 0.02):
        super().__init__()
        dcgan = DCGANDiscriminator(image_size, channels, base_channels, max_channels, 0, norm, init_std)
        layers = list(dcgan.net)
        self.trunk, self.d_head = nn.Sequential(*layers[:-1]), layers[-1]  # the last 4x4 conv -> one logit
        width = self.d_head.in_channels
        self.q_head = nn.Sequential(
            nn.Conv2d(width, q_hidden, 4, 1, 0), nn.LeakyReLU(0.2, True), nn.Flatten(),
            nn.Linear(q_hidden, categorical + continuous))
        init_normal_(self.q_head, init_std)
        self.categorical, self.continuous, self.input_shape = categorical, continuous, dcgan.input_shape

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_codes(x)[0]

    def forward_with_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(D logits [N], Q categorical logits [N, K], Q continuous means [N, L])."""
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}")
        h = self.trunk(x)
        q = self.q_head(h)
        return self.d_head(h).flatten(), q[:, : self.categorical], q[:, self.categorical :]
