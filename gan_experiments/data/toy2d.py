"""2-D Gaussian mixtures of the mode-collapse literature, with the papers' fixed settings.

``ring8``: 8 Gaussians of std 0.02 evenly spaced on a circle of radius 2 (Metz et al. 2017; VEEGAN).
``grid25``: 25 Gaussians of std 0.05 on a 5x5 grid with spacing 2, centres in {-4, -2, 0, 2, 4}^2 (PacGAN).
"""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig, OmegaConf

from gan_experiments.data.base import GANDataModule, InMemoryDataset
from gan_experiments.data.capabilities import PointMixture
from gan_experiments.errors import ConfigError

IMAGE_KEYS = ("data.image_size", "data.channels")  # what image models read; toy2d has neither


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


def _leaves(node, prefix: str):
    """(dotted key, value) of each leaf of a plain container; lists count as leaves."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}")
    else:
        yield prefix, node


def _model_name(cfg: DictConfig) -> str:
    """``model=<choice>`` as typed when Hydra runs, else the generator's (or model's) class."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized() and HydraConfig.get().runtime.choices.get("model"):
        return f"model={HydraConfig.get().runtime.choices['model']}"
    target = OmegaConf.select(cfg, "model.generator._target_", default=None) or OmegaConf.select(
        cfg, "model._target_", default="?")
    return f"the model ({str(target).rsplit('.', 1)[-1]})"


class Toy2DDataModule(GANDataModule, PointMixture):
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

    @classmethod
    def check_model_config(cls, cfg: DictConfig) -> None:
        """Refuse a model configured for images (its config reads ``data.image_size`` or ``data.channels``,
        which toy2d lacks): ``ConfigError`` naming the model, ``data=toy2d`` and the toy2d experiments."""
        model = cfg.get("model")
        if model is None:
            return
        leaves = _leaves(OmegaConf.to_container(model, resolve=False), "model")
        uses = [(key, value) for key, value in leaves if any(k in str(value) for k in IMAGE_KEYS)]
        if not uses:
            return
        key, value = uses[0]
        raise ConfigError(
            f"{_model_name(cfg)} is configured for images, but data=toy2d holds 2-D points (samples [N, 2]): "
            f"{key}={value} reads a key toy2d does not have. toy2d is for model=gan with a 2-D generator, as in "
            "its experiments: python train.py experiment=toy2d_gan (or toy2d_gan_r1, toy2d_wgan_gp); image "
            "models need image data (data=digits, mnist, image_folder data.path=DIR, ...)"
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        generator = torch.Generator().manual_seed(self.split_seed)
        self.train_set = InMemoryDataset(*sample_mixture(self.centres, self.std, self.train_size, generator))
        self.val_set = InMemoryDataset(*sample_mixture(self.centres, self.std, self.val_size, generator))
