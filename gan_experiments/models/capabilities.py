"""What callbacks, metrics and tools may ask of a LightningModule, declared by inheriting these bases.

A capability is a declaration, not a name: a module is a ``LatentGenerator`` because its class says so
(``class GANModule(LatentGenerator, LightningModule)``), not because it happens to have a ``sample``
attribute. Check with ``isinstance(module, StyleSpaceGenerator)``; a class that has ``synthesize`` but
does not declare ``StyleSpaceGenerator`` is not treated as one. The bases are plain classes (no
metaclass, no state) so they mix into ``LightningModule`` without changing it.
"""

from __future__ import annotations

from typing import ClassVar

import torch


class LatentGenerator:
    """A module that generates from a latent code (GANs, InfoGAN, StyleGAN, the VAE's decoder).

    - ``latent_dim``: int, the size of z.
    - ``num_classes``: int, K > 0 for a class-conditional generator, 0 otherwise.
    - ``sample(z [N, latent_dim], labels [N] long in [0, K) or None) -> [N, C, H, W]`` images in [-1, 1]
      (points [N, D] on toy data), in eval mode, without gradients.
    """

    latent_dim: int
    num_classes: int

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class StyleSpaceGenerator(LatentGenerator):
    """A generator with an intermediate style space W (StyleGAN): tools interpolate, mix and edit in W, and
    the truncation trick acts on w (``sample(z, labels, psi=, truncation_layers=)``), not by resampling z.

    - ``styles(z [N, latent_dim], z_mix [N, latent_dim] | None, crossover: int | None) -> ws [N, L, w_dim]``,
      one w per synthesis layer (L = ``sampler.num_ws``), z_mix's from layer ``crossover`` on.
    - ``synthesize(ws [N, L, w_dim], noise: per-layer noise maps or None) -> images [N, C, H, W]`` in
      [-1, 1]; noise maps are drawn from the global torch generator when not given.
    - ``sampler.num_ws``: L.
    """

    truncation_space: ClassVar[str] = "w"  # what it says; the capability is the base class, not this value

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float | None = None,
               truncation_layers: int | None = None) -> torch.Tensor:
        raise NotImplementedError

    def styles(self, z: torch.Tensor, z_mix: torch.Tensor | None = None, crossover: int | None = None) -> torch.Tensor:
        raise NotImplementedError

    def synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        raise NotImplementedError
