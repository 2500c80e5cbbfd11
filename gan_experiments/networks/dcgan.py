"""DCGAN networks (Radford et al. 2016), sized by the image size, optionally class-conditional.

Generator: z [N, Z] -> ConvT 4x4 to [N, 8·ngf', 4, 4] -> (ConvT stride 2 + BN + ReLU) x k -> ConvT + Tanh
-> [N, C, S, S], with k = log2(S) - 3 (S = 64 gives the paper's 4 -> 8 -> 16 -> 32 -> 64).
Discriminator: the mirror: strided 4x4 convolutions with LeakyReLU(0.2), normalization on every layer but
the input layer, down to 4x4, then a 4x4 convolution to one raw logit per image, [N].

Options for any loss: ``spectral_norm`` (Miyato et al. 2018) on every discriminator layer, and a
``minibatch_std`` channel (Karras et al. 2018) before the last discriminator convolution.

Conditioning: with ``num_classes = K > 0`` the generator input is concat(z, one_hot(y)) (cGAN, Mirza &
Osindero 2014), and the discriminator's ``conditioning`` chooses how D uses the class (``networks.conditioning``):

- ``concat`` (cGAN): D's input is concat(x, K constant one-hot class maps), [N, C + K, S, S].
- ``projection`` (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, psi linear; the class
  enters only through the inner product.
- ``acgan`` (Odena et al. 2017): D(x) sees no class; the usual 4x4 output convolution gives the source
  logit and a linear head on phi(x) the class logits [N, K] (``logits_and_classes``).

phi(x) [N, F] is read off the last conv block's map h [N, C, 4, 4] by ``phi``: ``sum`` (global sum pooling,
F = C, the projection paper's) or ``flatten`` (F = 16 C, what the 4x4 output convolution itself reads, and
AC-GAN's flattened last conv features); null takes each paper's: sum for projection, flatten for acgan.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from gan_experiments.networks.conditioning import (
    AuxiliaryClassifierDiscriminator,
    AuxiliaryClassifierHead,
    ProjectionHead,
)
from gan_experiments.networks.layers import (
    MinibatchStdDev,
    check_labels,
    concat_class_maps,
    concat_one_hot,
    init_normal_,
    norm_2d,
    spectral_norm_,
)

CONDITIONINGS = ("concat", "projection", "acgan")
PAPER_PHI = {"projection": "sum", "acgan": "flatten"}  # how each paper reads phi off the last conv block


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


class DCGANDiscriminator(AuxiliaryClassifierDiscriminator):
    """images [N, channels, image_size, image_size] (+ labels [N]) -> raw logits [N].

    ``conditioning`` (with ``num_classes`` K > 0; see the module docstring): ``concat`` (the default, and the
    only choice of an unconditional D), ``projection`` or ``acgan``. Parameter names: ``net.*`` is the conv
    stack (with the 4x4 output convolution as its last layer, except for ``projection``), ``projection.*``
    (psi, embed) and ``classifier.*`` the conditioning heads; ``phi`` (projection, acgan): ``sum`` | ``flatten``
    | null (each paper's). Declares ``AuxiliaryClassifierDiscriminator``; ``classifies`` is True for ``acgan`` only.
    """

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
        conditioning: Literal["concat", "projection", "acgan"] = "concat",
        phi: Literal["sum", "flatten"] | None = None,
    ):
        super().__init__()
        stages = _check_image_size(image_size)
        _check_conditioning(conditioning, num_classes, phi)
        self.num_classes, self.conditioning = num_classes, conditioning
        self.phi = phi or PAPER_PHI.get(conditioning)  # None for concat: no head reads phi
        self.input_shape = (channels, image_size, image_size)
        widths = [min(base_channels * 2**i, max_channels) for i in range(stages)]
        in_channels = channels + (num_classes if conditioning == "concat" else 0)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), norm_2d(norm, c_out), nn.LeakyReLU(0.2, True)]
        if minibatch_std:
            layers.append(MinibatchStdDev())
        channels_4x4 = widths[-1] + minibatch_std  # C: channels of the last block's 4x4 map
        features = channels_4x4 * (16 if self.phi == "flatten" else 1)  # F: size of phi
        self.trunk_layers = len(layers)  # net[:trunk_layers] maps x to the last block's map [N, C, 4, 4]
        if conditioning != "projection":
            layers += [nn.Conv2d(channels_4x4, 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        self.projection = ProjectionHead(features, num_classes) if conditioning == "projection" else None
        self.classifier = AuxiliaryClassifierHead(features, num_classes) if conditioning == "acgan" else None
        init_normal_(self, init_std)
        if self.projection is not None:  # DCGAN's N(0, std) for every weight, the class embedding included
            nn.init.normal_(self.projection.embed.weight, 0.0, init_std)
        if spectral_norm:
            spectral_norm_(self)
            if self.projection is not None:  # the paper normalizes the embedding too
                nn.utils.parametrizations.spectral_norm(self.projection.embed)

    @property
    def classifies(self) -> bool:
        return self.classifier is not None

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last conv block's output h, images [N, channels, S, S] -> [N, C, 4, 4] (projection, acgan)."""
        self._check_images(x)
        return self.net[: self.trunk_layers](x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x) [N, F] of ``feature_map(x)`` (see ``phi_of``)."""
        return self.phi_of(self.feature_map(x))

    def phi_of(self, h: torch.Tensor) -> torch.Tensor:
        """h [N, C, 4, 4] -> phi [N, F]: sum over the 4x4 positions (F = C) or flattened (F = 16 C)."""
        return h.sum(dim=(2, 3)) if self.phi == "sum" else h.flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditioning == "projection":
            check_labels(labels, self.num_classes, x.shape[0])
            return self.projection(self.features(x), labels)
        if self.conditioning == "acgan":
            return self.logits_and_classes(x, labels)[0]
        self._check_images(x)
        return self.net(concat_class_maps(x, labels, self.num_classes)).flatten()

    def logits_and_classes(self, x: torch.Tensor,
                           labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(source logits [N], class logits [N, K]) from one pass for ``acgan``, with the labels ignored (shape
        checked); (``forward(x, labels)``, None) otherwise."""
        if self.classifier is None:
            return self(x, labels), None
        if labels is not None:
            check_labels(labels, self.num_classes, x.shape[0])
        h = self.feature_map(x)
        return self.net[self.trunk_layers :](h).flatten(), self.classifier(self.phi_of(h))

    def _check_images(self, x: torch.Tensor) -> None:
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}")


def _check_conditioning(conditioning: str, num_classes: int, phi: str | None) -> None:
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"model.discriminator.conditioning must be one of {', '.join(CONDITIONINGS)}, "
                         f"got {conditioning!r}")
    if conditioning != "concat" and num_classes < 1:
        raise ValueError(f"model.discriminator.conditioning={conditioning} needs class labels "
                         f"(model.discriminator.num_classes > 0, e.g. model=cgan), got num_classes={num_classes}")
    if phi not in (None, "sum", "flatten") or (phi is not None and conditioning == "concat"):
        raise ValueError(f"model.discriminator.phi must be sum, flatten or null, and only with conditioning=projection "
                         f"or acgan (concat has no head on phi); got phi={phi!r} with conditioning={conditioning}")
