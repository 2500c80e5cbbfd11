"""Adversarial criteria, critic constraints, the GAN objectives that combine them (GANLoss; StyleGAN2Loss with
the path length penalty)."""

from gan_experiments.losses.adversarial import AdversarialLoss, BCELoss, HingeLoss, LSGANLoss, WassersteinLoss
from gan_experiments.losses.objective import CriticSchedule, GANLoss
from gan_experiments.losses.path_length import PathLengthPenalty
from gan_experiments.losses.penalties import clip_weights_, gradient_penalty, interpolate, r1_of, r1_penalty
from gan_experiments.losses.stylegan2 import StyleGAN2Loss

__all__ = [
    "AdversarialLoss",
    "BCELoss",
    "CriticSchedule",
    "GANLoss",
    "HingeLoss",
    "LSGANLoss",
    "PathLengthPenalty",
    "StyleGAN2Loss",
    "WassersteinLoss",
    "clip_weights_",
    "gradient_penalty",
    "interpolate",
    "r1_of",
    "r1_penalty",
]
