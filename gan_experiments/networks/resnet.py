"""ResNet image-to-image generator of CycleGAN (Zhu et al. 2017, appendix 7.2; Johnson et al. 2016).

Layers in the paper's notation for ``resnet_9blocks`` (256 px) and ``resnet_6blocks`` (128 px and below):
c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3 + Tanh, where c7s1-k is a 7x7 convolution with
k filters (reflection padding 3), dk a 3x3 stride-2 convolution, Rk a residual block of two 3x3
convolutions with reflection padding, and uk a 3x3 stride-1/2 transposed convolution; each followed by
normalization and ReLU. As junyanz/pytorch-CycleGAN-and-pix2pix ``ResnetGenerator``: convolutions carry a
bias unless batch norm follows them.

Shapes: [N, in_channels, H, W] -> [N, out_channels, H, W], H and W divisible by 4.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_experiments.networks.layers import init_normal_, norm_2d


def conv_norm_relu(c_in: int, c_out: int, norm: str, **conv) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, bias=norm != "batch", **conv), norm_2d(norm, c_out), nn.ReLU(True)]


class ResidualBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x), [N, C, H, W] -> same."""

    def __init__(self, channels: int, norm: str, dropout: float = 0.0):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), *conv_norm_relu(channels, channels, norm, kernel_size=3)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=norm != "batch"), norm_2d(norm, channels)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2 ngf), d(4 ngf), R(4 ngf) x n_blocks, u(2 ngf), u(ngf), c7s1-out + Tanh.

    ``n_blocks=None`` chooses by ``image_size``: 9 at 256 px and above, 6 below (the paper's choice).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 64,
        n_blocks: int | None = 9,
        image_size: int | None = None,
        norm: str = "instance",
        dropout: float = 0.0,
        init_std: float = 0.02,
    ):
        super().__init__()
        if n_blocks is None:  # the reference's choice by resolution: resnet_9blocks at 256 px, else resnet_6blocks
            n_blocks = 9 if image_size is not None and image_size >= 256 else 6
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        ngf = base_channels
        layers = [nn.ReflectionPad2d(3), *conv_norm_relu(in_channels, ngf, norm, kernel_size=7)]
        for mult in (1, 2):  # two stride-2 downsamplings
            layers += conv_norm_relu(ngf * mult, ngf * mult * 2, norm, kernel_size=3, stride=2, padding=1)
        layers += [ResidualBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
        for mult in (4, 2):  # two stride-2 upsamplings
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                   bias=norm != "batch"),
                norm_2d(norm, ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.in_channels, self.out_channels = in_channels, out_channels
        self.net = nn.Sequential(*layers)
        init_normal_(self, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(
                f"ResnetGenerator expects [N, {self.in_channels}, H, W] with H and W divisible by 4, got {list(x.shape)}"
            )
        return self.net(x)
