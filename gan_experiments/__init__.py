"""gan_experiments: every GAN of a standard GAN course as a configurable Lightning + Hydra experiment."""

__version__ = "0.1.0"
