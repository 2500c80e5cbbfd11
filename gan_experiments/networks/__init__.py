"""Networks by role: generators and discriminators (raw logits), no losses here."""

from gan_experiments.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_experiments.networks.infogan import InfoGANDiscriminator
from gan_experiments.networks.mlp import MLPDiscriminator, MLPGenerator
from gan_experiments.networks.patchgan import PatchDiscriminator
from gan_experiments.networks.resnet import ResnetGenerator
from gan_experiments.networks.stylegan import StyleGANDiscriminator, StyleGANGenerator
from gan_experiments.networks.unet import UnetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "InfoGANDiscriminator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchDiscriminator",
    "ResnetGenerator",
    "StyleGANDiscriminator",
    "StyleGANGenerator",
    "UnetGenerator",
]
