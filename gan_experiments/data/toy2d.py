"""2-D Gaussian mixtures of the mode-collapse literature, with the papers' fixed settings.

``ring8``: 8 Gaussians of std 0.02 evenly spaced on a circle of radius 2 (Metz et al. 2017; VEEGAN).
``grid25``: 25 Gaussians of std 0.05 on a 5x5 grid with spacing 2, centres in {-4, -2, 0, 2, 4}^2 (PacGAN).
"""

from __future__ import annotations

import math

import torch

from gan_experiments.data.base import GANDataModule, InMemoryDataset


def mixture_centres(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres [K, 2] and the per-mode standard deviation of a named mixture."""
    if name == "ring8":
        angles = torch.arange(8) * (2 * math.pi / 8)
        return torch.stack([2 * torch.cos(angles), 2 * torch.sin(angles)], dim=1), 0.02
    if name == "grid25":
        axis = torch.arange(-4.0, 5.0, 2.0)
        return torch.cartesian_prod(axis, axis), 0.05
    raise ValueError(f"data.name must be 'ring8' or 'grid25', got {name!r}")


def sample_mixture(centres: torch.Tensor, std: float, n: int, generator: torch.Generator):
    """n points [n, 2] from the equal-weight mixture, and the index [n] of the mode each was drawn from."""
    modes = torch.randint(len(centres), (n,), generator=generator)
    points = centres[modes] + std * torch.randn(n, 2, generator=generator)
    return points, modes


class Toy2DDataModule(GANDataModule):
    """A fixed sample of ``train_size`` points for training and ``val_size`` for validation.

    Labels are mode indices, so a conditional model can use them.
    """

    def __init__(
        self,
        name: str = "ring8",
        num_classes: int | None = None,
        train_size: int = 100_000,
        val_size: int = 2_500,
        batch_size: int = 256,
        num_workers: int = 0,
        split_seed: int = 0,
    ):
        super().__init__(batch_size, num_workers)
        self.name, self.train_size, self.val_size, self.split_seed = name, train_size, val_size, split_seed
        self.centres, self.std = mixture_centres(name)
        self.sample_shape = (2,)
        self._set_num_classes(len(self.centres), num_classes)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        generator = torch.Generator().manual_seed(self.split_seed)
        self.train_set = InMemoryDataset(*sample_mixture(self.centres, self.std, self.train_size, generator))
        self.val_set = InMemoryDataset(*sample_mixture(self.centres, self.std, self.val_size, generator))
