"""Adversarial criteria on raw discriminator outputs (logits / critic values), shape [N] or [N, ...].

Every criterion returns the discriminator loss as the sum of its real and fake terms and the generator
loss as one term; models that follow a reference scaling (e.g. CycleGAN's D loss x 0.5) apply it themselves.
The 1/2 factors some papers put in front of each term only rescale the learning rate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F


class AdversarialLoss(ABC):
    """The two halves of a GAN objective: what D minimizes and what G minimizes."""

    @abstractmethod
    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Loss of D given its outputs on real and on (detached) fake samples."""

    @abstractmethod
    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """Loss of G given D's outputs on fake samples."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BCELoss(AdversarialLoss):
    """Non-saturating GAN (Goodfellow et al. 2014), with sigma the logistic function:

    L_D = -E[log sigma(D(x))] - E[log(1 - sigma(D(G(z))))]
    L_G = -E[log sigma(D(G(z)))]          (the non-saturating generator loss)
    """

    def discriminator_loss(self, real, fake):
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def generator_loss(self, fake):
        return F.softplus(-fake).mean()


class LSGANLoss(AdversarialLoss):
    """Least-squares GAN (Mao et al. 2017) with targets a = 0 (fake), b = c = 1 (real):

    L_D = E[(D(x) - 1)^2] + E[D(G(z))^2]
    L_G = E[(D(G(z)) - 1)^2]
    """

    def discriminator_loss(self, real, fake):
        return (real - 1).pow(2).mean() + fake.pow(2).mean()

    def generator_loss(self, fake):
        return (fake - 1).pow(2).mean()


class HingeLoss(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018):

    L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
    L_G = -E[D(G(z))]
    """

    def discriminator_loss(self, real, fake):
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator_loss(self, fake):
        return -fake.mean()


class WassersteinLoss(AdversarialLoss):
    """Wasserstein GAN (Arjovsky et al. 2017); the critic D needs a Lipschitz constraint (clipping or GP):

    L_D = E[D(G(z))] - E[D(x)]       (minus the critic's estimate of the Wasserstein-1 distance)
    L_G = -E[D(G(z))]
    """

    def discriminator_loss(self, real, fake):
        return fake.mean() - real.mean()

    def generator_loss(self, fake):
        return -fake.mean()
