"""Pix2Pix (Isola et al. 2017): a conditional GAN with an L1 term for paired image-to-image translation."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_experiments.losses import AdversarialLoss
from gan_experiments.models.base import OptimizerFactory
from gan_experiments.models.translation import TranslationModule


class Pix2PixModule(TranslationModule):
    """G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G)   (paper eq. 4), by manual optimization:

        L_cGAN = E[log D(x, y)] + E[log(1 - D(x, G(x)))],   L_L1 = E ||y - G(x)||_1

    per batch (x, y) = (input, target) of the paired DataModule (its ``data.direction`` decides which half
    is the input; facades trains BtoA, label map -> photo):
        fake = G(x)
        D step: minimize 0.5 * [BCE(D(cat(x, y)), 1) + BCE(D(cat(x, fake.detach())), 0)]
        G step: minimize BCE(D(cat(x, fake)), 1) + lambda_l1 * |y - fake|_1   (non-saturating, lambda_l1 = 100)
    as junyanz ``pix2pix_model.py`` (D sees the input concatenated to the output on channels; no image pool;
    D's loss halved to slow D relative to G). The adversarial ``criterion`` is the ``loss`` group's (``loss.criterion``: bce by default).

    Shapes: x [N, C_in, H, W], y and G(x) [N, C_out, H, W], D(cat) [N, 1, H', W'] (PatchGAN logits).
    Inference (``translate``, so metrics and ``task=translate``) follows ``test_mode``: "paper" (default) as
    the paper (sec. 3.3) and the reference's default test: dropout on and batch norm with the statistics of
    each single image (batch 1, training mode, running statistics untouched, dropout seeded); "eval" uses
    the running statistics without dropout (the reference's ``--eval``).
    Logged: train/d_loss, train/d_real, train/d_fake, train/g_adv, train/l1 (unweighted), train/g_loss.
    """

    translators = {"a2b": "generator"}  # the trained direction, whichever data.direction chose

    def __init__(self, generator: nn.Module, discriminator: nn.Module, criterion: AdversarialLoss,
                 optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory, lambda_l1: float = 100.0,
                 n_epochs: int = 100, n_epochs_decay: int = 100, test_mode: str = "paper", **unexpected: Any):
        super().__init__(criterion, optimizer_g, optimizer_d, n_epochs, n_epochs_decay, **unexpected)
        self.set_test_mode(test_mode)
        if lambda_l1 < 0:
            raise ValueError(f"model.lambda_l1 must be >= 0, got {lambda_l1}")
        self.generator, self.discriminator, self.lambda_l1 = generator, discriminator, lambda_l1

    def generator_parameters(self):
        return self.generator.parameters()

    def discriminator_parameters(self):
        return self.discriminator.parameters()

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        d_real = self.discriminator(torch.cat([x, y], dim=1))
        d_fake = self.discriminator(torch.cat([x, fake.detach()], dim=1))
        loss = 0.5 * self.criterion.discriminator_loss(d_real, d_fake)
        return {"d_loss": loss, "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        g_adv = self.criterion.generator_loss(self.discriminator(torch.cat([x, fake], dim=1)))
        l1 = F.l1_loss(fake, y)
        return {"g_adv": g_adv, "l1": l1, "g_loss": g_adv + self.lambda_l1 * l1}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        x, y = batch
        opt_g, opt_d = self.optimizers()
        fake = self.generator(x)
        d_terms = self.optimize(opt_d, lambda: self.discriminator_loss(x, y, fake), "d_loss")
        g_terms = self.optimize(opt_g, lambda: self.generator_loss(x, y, fake), "g_loss")
        return self.log_losses(d_terms | g_terms)

    def panel_columns(self, batch, direction="a2b"):
        """input | output | target."""
        x, y = batch
        return [x.to(self.device), self.translate(x, direction), y.to(self.device)]
