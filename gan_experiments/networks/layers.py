"""Small shared building blocks: weight init, normalization choice, class conditioning."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_experiments.networks.equalized import EqualizedConv2d, EqualizedLinear

NORMS = ("batch", "instance", "layer", "none")


def norm_2d(kind: str, channels: int) -> nn.Module:
    """A 2-D normalization layer by name.

    ``layer`` is layer normalization over [C, H, W] per sample (``GroupNorm`` with one group), the
    critic normalization WGAN-GP recommends because it does not couple samples in a batch.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialization (Radford et al. 2016): conv/linear weights ~ N(0, std), norm scales ~ N(1, std)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def activation(name: str) -> nn.Module:
    """Output activation by name: ``tanh`` for images in [-1, 1], ``sigmoid`` for [0, 1], ``none``."""
    table = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}
    if name not in table:
        raise ValueError(f"output_activation must be one of {sorted(table)}, got {name!r}")
    return table[name]()


def check_labels(labels: torch.Tensor | None, num_classes: int, batch: int) -> None:
    """Fail clearly when a conditional network gets no labels, or an unconditional one gets labels."""
    if num_classes and labels is None:
        raise ValueError(f"this network is conditional on {num_classes} classes: pass labels of shape [{batch}]")
    if labels is not None and not num_classes:
        raise ValueError("this network is unconditional (num_classes=0) but labels were passed")
    if labels is not None and labels.shape != (batch,):
        raise ValueError(f"labels must have shape [{batch}], got {list(labels.shape)}")


def concat_one_hot(z: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """cGAN vector input (Mirza & Osindero 2014): concat(v, one_hot(y)), [N, D] -> [N, D + K]."""
    check_labels(labels, num_classes, z.shape[0])
    if not num_classes:
        return z
    return torch.cat([z, F.one_hot(labels, num_classes).to(z.dtype)], dim=1)


def concat_class_maps(x: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """cGAN discriminator input: one constant map per class, [N, C, H, W] -> [N, C + K, H, W]."""
    check_labels(labels, num_classes, x.shape[0])
    if not num_classes:
        return x
    maps = F.one_hot(labels, num_classes).to(x.dtype)[:, :, None, None]
    return torch.cat([x, maps.expand(-1, -1, *x.shape[2:])], dim=1)


def spectral_norm_(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every convolution and linear layer: W / sigma(W), with
    sigma estimated by one power iteration per forward (torch's parametrization). Equalized-learning-rate
    layers (StyleGAN) lose their run-time scale, so each layer's spectral norm is 1 there too."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        elif isinstance(child, (EqualizedConv2d, EqualizedLinear)):
            child.scale = 1.0
            nn.utils.parametrizations.spectral_norm(child)
        else:
            spectral_norm_(child)
    return module


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN sec. 3): per group of ``group_size``
    samples, the standard deviation of every feature over the group, averaged over features and pixels,
    appended as one constant channel. [N, C, H, W] -> [N, C + 1, H, W]; N must be divisible by the group
    size, which shrinks to the largest divisor of N that does not exceed it."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = next(d for d in range(min(self.group_size, n), 0, -1) if n % d == 0)
        groups = x.float().reshape(g, n // g, c, h, w)  # sample i is in group i mod (n // g)
        std = (groups.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [n // g]
        feature = std.to(x.dtype).repeat(g)[:, None, None, None].expand(n, 1, h, w)
        return torch.cat([x, feature], dim=1)


class Blur2d(nn.Module):
    """Low-pass filter of StyleGAN's discriminator (NVlabs ``blur2d``, Karras et al. 2019 sec. 2 citing
    Zhang 2019): a depthwise 3x3 convolution with k = [1, 2, 1]^T [1, 2, 1] / 16 (sums to 1) and zero
    'same' padding, as ``tf.nn.depthwise_conv2d(padding='SAME')``: y[c] = k * x[c]. [N, C, H, W] -> [N, C, H, W].
    A constant image passes unchanged except on its one-pixel border (3/4 on edges, 9/16 in corners)."""

    def __init__(self, taps: tuple[float, ...] = (1.0, 2.0, 1.0)):
        super().__init__()
        f = torch.tensor(taps)
        self.register_buffer("kernel", (f[:, None] * f[None, :] / f.sum() ** 2)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, *self.kernel.shape[2:])
        return F.conv2d(x, kernel, padding=self.kernel.shape[-1] // 2, groups=channels)
