"""Networks by role: generators and discriminators (raw logits), no losses here."""

from gan_experiments.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_experiments.networks.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
