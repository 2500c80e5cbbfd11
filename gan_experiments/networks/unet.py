"""U-Net generator of pix2pix (Isola et al. 2017, appendix 6.1.1), as junyanz/pytorch-CycleGAN-and-pix2pix
``UnetGenerator``.

Encoder C64-C128-C256-C512-C512-C512-C512-C512 (4x4 stride-2 convolutions, LeakyReLU 0.2, no norm on the
first), decoder CD512-CD512-CD512-C512-C256-C128-C64 (ReLU, 4x4 stride-2 transposed convolutions, dropout
0.5 in the innermost decoder blocks) and a final transposed convolution + Tanh. Skip connections
concatenate each encoder block's output to the decoder block of the same resolution, so a decoder block
at resolution r sees 2x the channels. ``num_downs`` stride-2 steps take S = 2^num_downs to 1x1:
``unet_256`` has 8, ``unet_128`` 7; ``num_downs=None`` picks log2(image_size).

Shapes: [N, in_channels, S, S] -> [N, out_channels, S, S], S divisible by 2^num_downs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_experiments.networks.layers import init_normal_, norm_2d


def _levels_for(image_size: int | None) -> int:
    """log2(image_size): the number of levels whose bottleneck is 1x1 (8 = unet_256 at 256 px)."""
    if not isinstance(image_size, int) or image_size < 32 or image_size & (image_size - 1):
        raise ValueError(
            f"a U-Net sized by data.image_size needs a power of two >= 32, got {image_size!r}; "
            "or set model.generator.num_downs (8 = unet_256, 7 = unet_128)"
        )
    return int(math.log2(image_size))


class UnetBlock(nn.Module):
    """One resolution level: down(x) -> inner -> up, returning concat(x, up) (the skip) unless outermost.

    [N, outer, H, W] -> [N, 2 outer, H, W] (inner levels) or [N, out_channels, H, W] (outermost).
    """

    def __init__(self, outer: int, inner: int, norm: str, submodule: nn.Module | None = None,
                 in_channels: int | None = None, outermost: bool = False, dropout: float = 0.0):
        super().__init__()
        bias = norm != "batch"
        innermost = submodule is None
        down_conv = nn.Conv2d(in_channels or outer, inner, 4, stride=2, padding=1, bias=bias)
        up_in = inner if innermost else inner * 2
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, stride=2, padding=1), nn.Tanh()]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv] + ([] if innermost else [norm_2d(norm, inner)])
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, stride=2, padding=1, bias=bias), norm_2d(norm, outer)]
            if dropout:
                up.append(nn.Dropout(dropout))
        self.outermost = outermost
        self.model = nn.Sequential(*down, *([] if innermost else [submodule]), *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], dim=1)


class UnetGenerator(nn.Module):
    """The pix2pix U-Net with ``num_downs`` levels; dropout in the num_downs - 5 innermost non-bottom blocks."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int | None = None,
        image_size: int | None = 256,
        base_channels: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
        init_std: float = 0.02,
    ):
        super().__init__()
        num_downs = num_downs if num_downs is not None else _levels_for(image_size)
        if num_downs < 5:
            raise ValueError(f"a U-Net needs num_downs >= 5 (image size >= 32), got {num_downs}")
        ngf = base_channels
        block = UnetBlock(ngf * 8, ngf * 8, norm)  # innermost: 2x2 -> 1x1 -> 2x2
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, norm, block, dropout=dropout)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, norm, block)
        self.model = UnetBlock(out_channels, ngf, norm, block, in_channels=in_channels, outermost=True)
        self.in_channels, self.out_channels, self.num_downs = in_channels, out_channels, num_downs
        init_normal_(self, init_std)

    @classmethod
    def for_image_size(cls, image_size: int, **kwargs) -> UnetGenerator:
        """The U-Net whose bottleneck is 1x1 at ``image_size`` (a power of two >= 32): unet_256 at 256."""
        if not isinstance(image_size, int) or image_size < 32 or image_size & (image_size - 1):
            raise ValueError(f"a U-Net sized by data.image_size needs a power of two >= 32, got {image_size!r}")
        return cls(num_downs=int(math.log2(image_size)), **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        step = 2**self.num_downs
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2] % step or x.shape[3] % step:
            raise ValueError(
                f"UnetGenerator(num_downs={self.num_downs}) expects [N, {self.in_channels}, H, W] with H and W "
                f"divisible by {step}, got {list(x.shape)}"
            )
        return self.model(x)
