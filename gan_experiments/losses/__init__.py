"""Adversarial criteria, critic constraints and the GAN objective that combines them."""

from gan_experiments.losses.adversarial import AdversarialLoss, BCELoss, HingeLoss, LSGANLoss, WassersteinLoss
from gan_experiments.losses.objective import CriticSchedule, GANLoss
from gan_experiments.losses.penalties import clip_weights_, gradient_penalty, interpolate, r1_of, r1_penalty

__all__ = [
    "AdversarialLoss",
    "BCELoss",
    "CriticSchedule",
    "GANLoss",
    "HingeLoss",
    "LSGANLoss",
    "WassersteinLoss",
    "clip_weights_",
    "gradient_penalty",
    "interpolate",
    "r1_of",
    "r1_penalty",
]
