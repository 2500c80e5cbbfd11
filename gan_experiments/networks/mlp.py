"""Fully connected networks of the original GAN (Goodfellow et al. 2014), also used for 2-D toy data.

Generator: z [N, Z] -> (Linear + BatchNorm + ReLU) per hidden width -> Linear -> Tanh/Sigmoid/none
-> reshape to ``output_shape`` (e.g. [N, 1, 28, 28], or [N, 2] for toy data).
Discriminator: flatten -> (Linear + LeakyReLU(0.2)) per hidden width -> Linear -> raw logits [N].
With ``num_classes = K > 0`` both take a one-hot class vector concatenated to their input (cGAN).
With ``pack = m > 1`` the discriminator judges m samples at once (PacGAN, Lin et al. 2018; ``pack_samples``).
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


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """PacGAN packing (Lin et al. 2018, sec. 3): D sees m samples jointly, D(x_1, ..., x_m), by concatenating
    m consecutive rows, [N, F] -> [N / m, m * F]: row j is concat(x[j m], x[j m + 1], ..., x[j m + m - 1]).
    The batch is shuffled (reals) or i.i.d. (fakes), so consecutive rows are a random pack. N must be a
    multiple of m (``ValueError`` naming ``model.discriminator.pack``)."""
    n = x.shape[0]
    if n % pack:
        raise ValueError(
            f"model.discriminator.pack={pack} packs {pack} samples into one discriminator input, so the batch "
            f"size must be a multiple of {pack}, got {n} samples (set data.batch_size to a multiple of {pack})"
        )
    return x.reshape(n // pack, pack * x.shape[1])


class MLPDiscriminator(nn.Module):
    """samples [N, *input_shape] (+ labels [N]) -> raw logits [N], or [N / pack] with packing.

    pack: m >= 1 samples judged jointly (PacGAN, Lin et al. 2018). The packed discriminator is
    D(x_1, ..., x_m) on the concatenation of m samples (each with its one-hot label for a cGAN): only the
    input layer widens, [N, F] -> [N / m, m * F] (``pack_samples``), and the objective is the GAN's with
    the m-fold product distributions, e.g. for BCE

        min_G max_D  E_{x_1..x_m ~ p_data}[log D(x_1..x_m)] + E_{z_1..z_m}[log(1 - D(G(z_1)..G(z_m)))],

    so the losses average over N / m packs and G is trained through packs of its own samples. Gradient
    penalties still differentiate with respect to each input sample [N, F]: sample i's gradient is that of
    its own pack's output, so R1 as computed here (mean over samples of ||grad_{x_i} D||^2) is the packed
    input's ||grad D||^2 averaged over packs divided by m, and WGAN-GP's term pulls each sample's gradient
    block to norm 1. N must be a multiple of m. pack = 1 is the plain discriminator.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden_dims: Sequence[int] = (512, 256),
        num_classes: int = 0,
        pack: int = 1,
    ):
        super().__init__()
        if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
            raise ValueError(f"model.discriminator.pack must be an integer >= 1 (samples per pack), got {pack!r}")
        self.input_shape, self.num_classes, self.pack = tuple(input_shape), num_classes, pack
        layers: list[nn.Module] = []
        width = (math.prod(self.input_shape) + num_classes) * pack
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, True)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"inputs must have shape [N, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}")
        features = concat_one_hot(x.flatten(1), labels, self.num_classes)  # [N, F]
        if self.pack > 1:
            features = pack_samples(features, self.pack)  # [N / m, m * F]
        return self.net(features).flatten()
