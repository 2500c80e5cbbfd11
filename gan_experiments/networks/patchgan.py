"""PatchGAN discriminator (Isola et al. 2017, sec. 3.2.2; used by CycleGAN), as junyanz
``NLayerDiscriminator``.

C64-C128-C256 (4x4 stride 2) then C512 (4x4 stride 1) and a 4x4 stride-1 convolution to 1 channel, with
LeakyReLU 0.2 and normalization on every layer but the first. With ``n_layers = 3`` each output logit
sees a 70x70 receptive field; a 256x256 input gives a 30x30 logit map. Widths are capped at 8 x ndf.

Shapes: [N, in_channels, H, W] -> raw logits [N, 1, H', W'] (one real/fake logit per patch).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_experiments.networks.layers import init_normal_, norm_2d


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 3, base_channels: int = 64, n_layers: int = 3, norm: str = "instance",
                 init_std: float = 0.02):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        bias, ndf = norm != "batch", base_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        widths = [ndf * min(2**n, 8) for n in range(n_layers + 1)]
        for n in range(1, n_layers + 1):
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(widths[n - 1], widths[n], 4, stride=stride, padding=1, bias=bias),
                       norm_2d(norm, widths[n]), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))
        self.in_channels, self.n_layers = in_channels, n_layers
        self.net = nn.Sequential(*layers)
        init_normal_(self, init_std)

    def receptive_field(self) -> int:
        """Input pixels seen by one output logit along each axis (70 for n_layers = 3)."""
        field = 1
        for m in reversed([m for m in self.net if isinstance(m, nn.Conv2d)]):
            field = (field - 1) * m.stride[0] + m.kernel_size[0]
        return field

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchDiscriminator expects [N, {self.in_channels}, H, W], got {list(x.shape)}")
        if labels is not None:
            raise ValueError("PatchDiscriminator is unconditional: condition by concatenating images (pix2pix)")
        return self.net(x)
