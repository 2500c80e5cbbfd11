"""LightningModules: the training step of each GAN family, nothing else."""

from gan_experiments.models.cyclegan import CycleGANModule
from gan_experiments.models.gan import GANModule
from gan_experiments.models.infogan import InfoGANModule
from gan_experiments.models.pix2pix import Pix2PixModule
from gan_experiments.models.stylegan import StyleGANModule
from gan_experiments.models.stylegan2 import StyleGAN2Module
from gan_experiments.models.translation import TranslationModule
from gan_experiments.models.vae import VAEModule

__all__ = ["CycleGANModule", "GANModule", "InfoGANModule", "Pix2PixModule", "StyleGANModule", "StyleGAN2Module",
           "TranslationModule", "VAEModule"]
