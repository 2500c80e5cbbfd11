"""Networks by role: generators, discriminators (raw logits) and the VAE encoder; no losses here."""

from gan_experiments.networks.conditioning import (
    AuxiliaryClassifierDiscriminator,
    AuxiliaryClassifierHead,
    ProjectionHead,
)
from gan_experiments.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_experiments.networks.infogan import InfoGANDiscriminator
from gan_experiments.networks.mlp import MLPDiscriminator, MLPGenerator
from gan_experiments.networks.patchgan import PatchDiscriminator
from gan_experiments.networks.resnet import ResnetGenerator
from gan_experiments.networks.stylegan import StyleGANDiscriminator, StyleGANGenerator
from gan_experiments.networks.unet import UnetGenerator
from gan_experiments.networks.vae import ConvEncoder

__all__ = [
    "AuxiliaryClassifierDiscriminator",
    "AuxiliaryClassifierHead",
    "ConvEncoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "InfoGANDiscriminator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchDiscriminator",
    "ProjectionHead",
    "ResnetGenerator",
    "StyleGANDiscriminator",
    "StyleGANGenerator",
    "UnetGenerator",
]
