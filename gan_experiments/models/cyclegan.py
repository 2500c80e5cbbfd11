"""CycleGAN (Zhu et al. 2017): two generators and two discriminators for unpaired translation."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_experiments.losses import AdversarialLoss
from gan_experiments.models.base import OptimizerFactory
from gan_experiments.models.translation import TranslationModule
from gan_experiments.training import ImagePool


class CycleGANModule(TranslationModule):
    """L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F)   (paper eq. 3)
    plus the identity loss lambda_identity * lambda * (||G(y) - y||_1 + ||F(x) - x||_1) (paper sec. 5.2),

        L_cyc = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1,

    with least-squares adversarial terms (sec. 4): G minimizes (D_Y(G(x)) - 1)^2, D_Y minimizes
    0.5 * [(D_Y(y) - 1)^2 + D_Y(pool(G(x)))^2], where pool is a history of 50 generated images.

    Per batch (a, b), as junyanz ``cycle_gan_model.py``: one generator step for G and F together (one Adam),
    then one step for both discriminators (one Adam) on the fakes of that generator step, taken through the
    image pools. Default weights: lambda_cycle = 10 (the reference's lambda_A = lambda_B), lambda_identity 0.5.

    Names, paper -> reference code -> here (X = domain A, Y = domain B):
        G: X->Y   netG_A   generator_ab       D_Y  netD_A  discriminator_b (judges B images)
        F: Y->X   netG_B   generator_ba       D_X  netD_B  discriminator_a (judges A images)

    Shapes: a [N, C, H, W], b [N, C, H, W] in [-1, 1]; D outputs PatchGAN logits [N, 1, H', W'].
    Logged (unweighted, comparable across lambda sweeps): train/g_adv_ab, g_adv_ba, cycle_a (|F(G(a)) - a|),
    cycle_b, idt_a (|F(a) - a|), idt_b, g_loss (the weighted total), d_a, d_b, d_loss (their sum).
    """

    translators = {"a2b": "generator_ab", "b2a": "generator_ba"}

    def __init__(
        self,
        generator_ab: nn.Module,
        generator_ba: nn.Module,
        discriminator_a: nn.Module,
        discriminator_b: nn.Module,
        criterion: AdversarialLoss,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        **unexpected: Any,
    ):
        super().__init__(criterion, optimizer_g, optimizer_d, n_epochs, n_epochs_decay, **unexpected)
        if lambda_cycle < 0 or lambda_identity < 0:
            raise ValueError(f"model.lambda_cycle and model.lambda_identity must be >= 0, got {lambda_cycle}, {lambda_identity}")
        self.generator_ab, self.generator_ba = generator_ab, generator_ba
        self.discriminator_a, self.discriminator_b = discriminator_a, discriminator_b
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)  # fakes of A (F(b)) and of B (G(a))

    def generator_parameters(self):
        return [*self.generator_ab.parameters(), *self.generator_ba.parameters()]

    def discriminator_parameters(self):
        return [*self.discriminator_a.parameters(), *self.discriminator_b.parameters()]

    def generator_loss(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """All generator terms and g_loss; also returns the fakes (fake_b = G(a), fake_a = F(b))."""
        fake_b, fake_a = self.generator_ab(a), self.generator_ba(b)
        terms = {
            "fake_b": fake_b,
            "fake_a": fake_a,
            "g_adv_ab": self.criterion.generator_loss(self.discriminator_b(fake_b)),
            "g_adv_ba": self.criterion.generator_loss(self.discriminator_a(fake_a)),
            "cycle_a": F.l1_loss(self.generator_ba(fake_b), a),
            "cycle_b": F.l1_loss(self.generator_ab(fake_a), b),
        }
        total = terms["g_adv_ab"] + terms["g_adv_ba"] + self.lambda_cycle * (terms["cycle_a"] + terms["cycle_b"])
        if self.lambda_identity > 0:
            terms["idt_a"] = F.l1_loss(self.generator_ba(a), a)
            terms["idt_b"] = F.l1_loss(self.generator_ab(b), b)
            total = total + self.lambda_cycle * self.lambda_identity * (terms["idt_a"] + terms["idt_b"])
        terms["g_loss"] = total
        return terms

    def discriminator_loss(self, a: torch.Tensor, b: torch.Tensor, fake_a: torch.Tensor, fake_b: torch.Tensor):
        """0.5 * L_D of each discriminator on real images against (pooled, detached) fakes; d_loss = d_a + d_b."""
        d_a = 0.5 * self.criterion.discriminator_loss(self.discriminator_a(a), self.discriminator_a(fake_a.detach()))
        d_b = 0.5 * self.criterion.discriminator_loss(self.discriminator_b(b), self.discriminator_b(fake_b.detach()))
        return {"d_a": d_a, "d_b": d_b, "d_loss": d_a + d_b}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        a, b = batch
        opt_g, opt_d = self.optimizers()
        g_terms = self.optimize(opt_g, lambda: self.generator_loss(a, b), "g_loss")
        fake_a, fake_b = self.pool_a.query(g_terms.pop("fake_a")), self.pool_b.query(g_terms.pop("fake_b"))
        d_terms = self.optimize(opt_d, lambda: self.discriminator_loss(a, b, fake_a, fake_b), "d_loss")
        return self.log_losses(g_terms | d_terms)

    def panel_columns(self, batch, direction="a2b"):
        """input | translation | reconstruction | identity (the other generator on the input, ~ input)."""
        self.check_direction(direction)
        x = batch[0] if direction == "a2b" else batch[1]
        back = "b2a" if direction == "a2b" else "a2b"
        fake = self.translate(x, direction)
        return [x.to(self.device), fake, self.translate(fake, back), self.translate(x, back)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["image_pools"] = {"a": self.pool_a.state_dict(), "b": self.pool_b.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        pools = checkpoint.get("image_pools")
        if pools:
            self.pool_a.load_state_dict(pools["a"])
            self.pool_b.load_state_dict(pools["b"])
