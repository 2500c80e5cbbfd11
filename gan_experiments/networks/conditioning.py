"""Class conditioning of a discriminator on its feature vector phi(x) [N, F], whatever network computes phi
(DCGAN's pooled last conv block, StyleGAN2's epilogue): the projection head, AC-GAN's auxiliary classifier,
and the declared capability of a discriminator that also classifies its input.

Projection discriminator (Miyato & Koyama 2018, eq. 3 with a linear psi; no class input anywhere else):

    D(x, y) = psi(phi(x)) + <embed(y), phi(x)>,   psi(phi) = w^T phi + b,   embed(y) = V[y], V [K, F]

AC-GAN (Odena et al. 2017): D sees no label; from the same features it returns the source logit [N] (the
network's own output layer) and class logits [N, K] = W_c phi + b_c (``AuxiliaryClassifierHead``), trained
with the log-likelihood of the correct class on real and generated images (``losses.auxiliary``).
"""

from __future__ import annotations

import torch
from torch import nn


def _check_phi(phi: torch.Tensor, features: int) -> None:
    if phi.ndim != 2 or phi.shape[1] != features:
        raise ValueError(f"features phi must have shape [N, {features}], got {list(phi.shape)}")


def _check_sizes(features: int, num_classes: int) -> None:
    if features < 1 or num_classes < 1:
        raise ValueError(f"a class-conditional head needs features >= 1 and num_classes >= 1 "
                         f"(model.discriminator.num_classes), got features={features}, num_classes={num_classes}")


class ProjectionHead(nn.Module):
    """(phi [N, F], labels [N] long in [0, K)) -> psi(phi) + <embed(y), phi>, raw logits [N].

    ``psi``: ``nn.Linear(F, 1)``; ``embed``: ``nn.Embedding(K, F)``, both initialized Glorot-uniform as the
    authors' code (pfnet-research/sngan_projection); an owner may re-initialize them with its own scheme.
    ``unconditional(phi)`` is the psi term alone, so ``forward - unconditional`` is the inner product.
    """

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        _check_sizes(features, num_classes)
        self.features, self.num_classes = features, num_classes
        self.psi = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features)
        nn.init.xavier_uniform_(self.psi.weight)
        nn.init.zeros_(self.psi.bias)
        nn.init.xavier_uniform_(self.embed.weight)

    def unconditional(self, phi: torch.Tensor) -> torch.Tensor:
        """psi(phi) [N]: the part of the logit that does not depend on the class."""
        _check_phi(phi, self.features)
        return self.psi(phi).flatten()

    def forward(self, phi: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if labels is None or labels.shape != (phi.shape[0],):
            got = None if labels is None else list(labels.shape)
            raise ValueError(f"a projection discriminator needs labels of shape [{phi.shape[0]}], got {got}")
        psi = self.unconditional(phi)
        dtype = torch.promote_types(phi.dtype, torch.float32)  # the inner product in fp32 or wider under autocast
        return psi.to(dtype) + (self.embed(labels).to(dtype) * phi.to(dtype)).sum(dim=1)


class AuxiliaryClassifierHead(nn.Module):
    """AC-GAN's auxiliary classifier: phi [N, F] -> class logits [N, K] = W_c phi + b_c (one linear layer).

    Only the class logits: the source logit stays the discriminator's own output layer, so a network's
    unconditional path (its parameter names and its numbers) is the same with or without this head."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        _check_sizes(features, num_classes)
        self.features, self.num_classes = features, num_classes
        self.linear = nn.Linear(features, num_classes)

    def forward(self, phi: torch.Tensor) -> torch.Tensor:
        _check_phi(phi, self.features)
        return self.linear(phi)


class AuxiliaryClassifierDiscriminator(nn.Module):
    """Capability: a discriminator that may also classify its input (AC-GAN, Odena et al. 2017). Models
    check it with ``classifying_discriminator`` (``isinstance`` plus the instance's ``classifies``), never by
    attribute name.

    - ``num_classes``: K.
    - ``classifies``: whether this instance has a classifier head (a network whose conditioning is chosen at
      construction, such as ``DCGANDiscriminator(conditioning=...)``, declares the capability once and says
      per instance whether it is an AC-GAN discriminator).
    - ``logits_and_classes(x [N, ...], labels [N] | None) -> (logits [N], class logits [N, K])`` in one
      forward pass; class logits are None when ``classifies`` is False. An AC-GAN discriminator ignores
      ``labels`` (D gets no class input); they are accepted so every discriminator is called alike.
    - ``forward(x, labels=None) -> logits [N]``: the source logit alone.
    """

    num_classes: int

    @property
    def classifies(self) -> bool:
        return True

    def logits_and_classes(self, x: torch.Tensor,
                           labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError


def classifying_discriminator(discriminator: nn.Module) -> bool:
    """True for a discriminator that declares ``AuxiliaryClassifierDiscriminator`` and has a classifier head."""
    return isinstance(discriminator, AuxiliaryClassifierDiscriminator) and discriminator.classifies
