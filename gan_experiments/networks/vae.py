"""The VAE's encoder: DCGAN's discriminator trunk with a Gaussian posterior head (the decoder is
``DCGANGenerator``).

images [N, C, S, S] -> strided 4x4 convolutions (batch norm, LeakyReLU 0.2) down to [N, w, 4, 4] ->
linear -> (mu [N, Z], log sigma^2 [N, Z]) of q(z | x) = N(mu, diag(sigma^2)).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_experiments.networks.dcgan import _check_image_size
from gan_experiments.networks.layers import init_normal_, norm_2d


class ConvEncoder(nn.Module):
    def __init__(self, latent_dim: int = 100, image_size: int = 64, channels: int = 3, base_channels: int = 64,
                 max_channels: int = 512, norm: str = "batch"):
        super().__init__()
        stages = _check_image_size(image_size)
        self.latent_dim, self.input_shape = latent_dim, (channels, image_size, image_size)
        widths = [min(base_channels * 2**i, max_channels) for i in range(stages)]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(widths, widths[1:], strict=False):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=norm == "none"), norm_2d(norm, w_out), nn.LeakyReLU(0.2, True)]
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(widths[-1] * 16, 2 * latent_dim)
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images [N, C, S, S] -> (mu [N, Z], logvar [N, Z])."""
        mu, logvar = self.head(self.net(x)).chunk(2, dim=1)
        return mu, logvar
