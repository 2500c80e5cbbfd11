"""LightningModules: the training step of each GAN family, nothing else."""

from gan_experiments.models.gan import GANModule

__all__ = ["GANModule"]
