"""The GAN family trained by alternating critic and generator steps: GAN, DCGAN, WGAN, WGAN-GP, cGAN and
its conditional discriminators (concat, projection, AC-GAN).

Which of these a run is depends only on the parts it is given: the networks (MLP or DCGAN, conditional
when ``generator.num_classes > 0``; an AC-GAN discriminator adds the auxiliary classification loss) and the
loss (criterion, constraint, critic steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

from gan_experiments.losses import GANLoss, clip_weights_, gradient_penalty, interpolate, r1_of
from gan_experiments.losses.auxiliary import auxiliary_classification_loss
from gan_experiments.models.base import AdversarialModule, OptimizerFactory
from gan_experiments.models.capabilities import LatentGenerator
from gan_experiments.models.inference import eval_mode
from gan_experiments.networks.conditioning import classifying_discriminator
from gan_experiments.training.diffaugment import DiffAugment


def warmup_ema(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], torch.Tensor], None]:
    """EMA update with TensorFlow's ``num_updates`` warm-up, d = min(decay, (1 + n) / (10 + n)) after n
    updates, so early averages follow G instead of staying near the initialization (StyleGAN's ema_rampup
    serves the same purpose): averaged <- d * averaged + (1 - d) * current, i.e. lerp towards current by
    1 - d, for all tensors of one device and dtype at once (``AveragedModel``'s ``multi_avg_fn``; integer
    buffers such as batch norm's counters are copied)."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        d = float(torch.clamp((1 + num_averaged) / (10 + num_averaged), max=decay))
        torch._foreach_lerp_(averaged, current, 1 - d)

    return update


class GANModule(AdversarialModule, LatentGenerator):
    """min_G max_D V(D, G) by manual optimization (Goodfellow et al. 2014, Algorithm 1):

    for every real batch x ~ p_data (with labels y for a cGAN):
        critic step:    z ~ N(0, I);  minimize L_D(D(x, y), D(G(z, y), y)) [+ lambda GP] [+ gamma/2 R1]  [then clip D]
        every n_critic-th batch, generator step: fresh z;  minimize L_G(D(G(z, y), y))

With an AC-GAN discriminator (one that declares ``AuxiliaryClassifierDiscriminator`` and ``classifies``;
Odena et al. 2017), D(x) sees no label and also returns class logits C(x) [N, K]; with w = ``aux_weight``:
        critic step:    + w · (CE(C(x), y) + CE(C(G(z, y)), y))        (train/d_aux, train/d_real_class_acc)
        generator step: + w · CE(C(G(z, y)), y)                          (train/g_aux)
(``losses.auxiliary``); GP and R1 differentiate the source logit D(x) only.

    Each critic step sees a fresh real batch, so with n_critic = 5 the generator steps every 5th batch
    (WGAN, Arjovsky et al. 2017, Algorithm 1). ``trainer.global_step`` counts both optimizers' steps.
    With ``loss.critic_schedule`` (``CriticSchedule``; the WGAN authors' code: 100 critic steps before each
    of the first 25 and every 500th generator step), G steps once ``loss.critic_steps_before(g)`` critic
    steps have run since its last step, g being its steps so far, and (``generator_step_at_epoch_end``)
    after every epoch's last batch. ``critic_steps``, ``generator_steps`` and
    ``critic_steps_since_generator_step`` are saved in checkpoints, so a resume continues the schedule.

    Shapes: real batch [N, ...] as produced by the DataModule, labels [N]; z [N, generator.latent_dim].
    With ``diffaugment`` (a policy list such as [color, translation, cutout]), D sees T(x) and T(G(z)) in
    both losses, T differentiable (``DiffAugment``, Zhao et al. 2020): for small datasets.
    With ``ema_decay`` > 0, ``sample`` (and so sample grids and metrics) uses an exponential moving average
    of G's weights, updated after every generator step with a warm-up (``warmup_ema``; torch's
    ``AveragedModel``, saved in checkpoints).
    Optimizers are [G's, D's]; LearningRateMonitor names them lr-<Class> and lr-<Class>-1.
    ``training_step`` returns this batch's detached losses (for callbacks such as LossCurves).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: GANLoss,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        ema_decay: float = 0.0,
        diffaugment: list[str] | None = None,
        aux_weight: float = 1.0,
    ):
        super().__init__()
        loss.check_discriminator(discriminator)
        if not 0 <= ema_decay < 1:
            raise ValueError(f"model.ema_decay must be in [0, 1), got {ema_decay}")
        if not aux_weight >= 0:
            raise ValueError(f"model.aux_weight must be >= 0, got {aux_weight}")
        self.generator, self.discriminator, self.loss = generator, discriminator, loss
        # w of the AC-GAN auxiliary classification loss; used only when D classifies
        self.aux_weight, self.acgan = aux_weight, classifying_discriminator(discriminator)
        if self.acgan and generator.num_classes != discriminator.num_classes:
            raise ValueError("an AC-GAN discriminator (model.discriminator.conditioning=acgan) classifies into "
                             f"{discriminator.num_classes} classes but model.generator.num_classes is "
                             f"{generator.num_classes}: they must match")
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        # counters of the critic/generator alternation (in checkpoints): critic steps, generator steps g, and
        # critic steps since G's last step (what a loss.critic_schedule compares with critic_steps_before(g))
        self.critic_steps = self.generator_steps = self.critic_steps_since_generator_step = 0
        # G_ema <- d * G_ema + (1 - d) * G after every generator step (Karras et al. 2018; Yazici et al. 2019)
        self.generator_ema = (
            AveragedModel(generator, multi_avg_fn=warmup_ema(ema_decay), use_buffers=True).requires_grad_(False)
            if ema_decay > 0 else None
        )
        # T in D(T(x)) and D(T(G(z))) for D's and G's losses (Zhao et al. 2020); identity when not asked for
        self.augment = DiffAugment(diffaugment) if diffaugment else nn.Identity()

    @property
    def sampler(self) -> nn.Module:
        """The generator used for samples and metrics: the EMA copy when ``ema_decay`` > 0."""
        return self.generator if self.generator_ema is None else self.generator_ema.module

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    def sample_latent(self, n: int) -> torch.Tensor:
        """z ~ N(0, I), [n, latent_dim], on the module's device."""
        return torch.randn(n, self.latent_dim, device=self.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generator output for inference (eval mode, no gradients), [N, ...]; training mode is restored."""
        with eval_mode(self.sampler) as generator:
            return generator(z.to(self.device), None if labels is None else labels.to(self.device))

    def configure_optimizers(self):
        return [self.optimizer_g(self.generator.parameters()), self.optimizer_d(self.discriminator.parameters())]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        real, labels = batch
        labels = labels if self.num_classes else None
        opt_g, opt_d = self.optimizers()
        logs = self._critic_step(opt_d, real, labels)
        self.critic_steps += 1
        self.critic_steps_since_generator_step += 1
        if self._generator_steps_now(batch_idx):
            logs |= self._generator_step(opt_g, real.shape[0], labels)
            self.generator_steps += 1
            self.critic_steps_since_generator_step = 0
        return self.log_losses(logs)

    def _generator_steps_now(self, batch_idx: int) -> bool:
        """After this batch's critic step: without a schedule, on every n_critic-th critic step of the run
        (Algorithm 1); with one, once its count for this generator step is reached, or at the epoch's end."""
        schedule = self.loss.critic_schedule
        if schedule is None:
            return self.critic_steps % self.loss.n_critic == 0
        if self.critic_steps_since_generator_step >= self.loss.critic_steps_before(self.generator_steps):
            return True
        return schedule.generator_step_at_epoch_end and batch_idx + 1 >= self.trainer.num_training_batches

    def _critic_step(self, opt: Optimizer, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        def losses() -> dict[str, torch.Tensor]:
            with torch.no_grad():
                fake = self.generator(self.sample_latent(real.shape[0]), labels)
            return self._critic_loss(real, fake, labels)

        logs = self.optimize(opt, losses, "d_loss")
        if self.loss.clip_value is not None:
            clip_weights_(self.discriminator, self.loss.clip_value)
        return logs

    def _critic_outputs(self, x: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(D(T(x), y) [N], class logits C(T(x)) [N, K] for an AC-GAN discriminator, else None), one pass."""
        if self.acgan:
            return self.discriminator.logits_and_classes(self.augment(x), labels)
        return self.discriminator(self.augment(x), labels), None

    def _critic_loss(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """{d_real, d_fake: mean critic outputs, [gp, r1, d_aux, d_real_class_acc,] d_loss = L_D(D(x), D(G(z)))
        + lambda * GP(x_hat) + gamma / 2 * R1(x) [+ w * d_aux]}, each a scalar []; real [N, ...], fake [N, ...]
        (detached), labels [N] (the fakes' classes too) or None."""
        critic = lambda x: self.discriminator(self.augment(x), labels)  # noqa: E731  (source logit only: GP)
        if self.loss.r1_weight > 0:  # R1 differentiates this very D(x): one forward on the reals, as NVlabs
            real = real.detach().requires_grad_(True)
        d_real, real_classes = self._critic_outputs(real, labels)
        d_fake, fake_classes = self._critic_outputs(fake, labels)
        loss = self.loss.criterion.discriminator_loss(d_real, d_fake)
        terms = {"d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}
        if self.acgan:  # AC-GAN: D maximizes the class log-likelihood of reals and fakes (L_C)
            terms["d_aux"] = (auxiliary_classification_loss(real_classes, labels)
                              + auxiliary_classification_loss(fake_classes, labels))
            terms["d_real_class_acc"] = (real_classes.detach().argmax(dim=1) == labels).float().mean()
            loss = loss + self.aux_weight * terms["d_aux"]
        if self.loss.gp_weight > 0:
            terms["gp"] = gradient_penalty(critic, interpolate(real.detach(), fake))
            loss = loss + self.loss.gp_weight * terms["gp"]
        if self.loss.r1_weight > 0:
            terms["r1"] = r1_of(d_real, real)
            loss = loss + self.loss.r1_weight / 2 * terms["r1"]
        terms["d_loss"] = loss
        return terms

    def _generator_step(self, opt: Optimizer, n: int, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        logs = self.optimize(opt, lambda: self._generator_loss(n, labels), "g_loss")
        self._update_ema()
        return logs

    def _generator_loss(self, n: int, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """{[g_aux,] g_loss = L_G(D(G(z, y), y)) [+ w * g_aux]} for fresh z [n, latent_dim], labels [n] or None."""
        fake = self.generator(self.sample_latent(n), labels)
        d_fake, fake_classes = self._critic_outputs(fake, labels)
        terms = {"g_loss": self.loss.criterion.generator_loss(d_fake)}
        if self.acgan:  # AC-GAN: G also maximizes the class log-likelihood of its samples
            terms["g_aux"] = auxiliary_classification_loss(fake_classes, labels)
            terms["g_loss"] = terms["g_loss"] + self.aux_weight * terms["g_aux"]
        return terms

    def _update_ema(self) -> None:
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["critic_steps"] = self.critic_steps
        checkpoint["generator_steps"] = self.generator_steps
        checkpoint["critic_steps_since_generator_step"] = self.critic_steps_since_generator_step

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.critic_steps = checkpoint.get("critic_steps", 0)
        # checkpoints from before these counters trained with a constant n_critic
        self.generator_steps = checkpoint.get("generator_steps", self.critic_steps // self.loss.n_critic)
        self.critic_steps_since_generator_step = checkpoint.get(
            "critic_steps_since_generator_step", self.critic_steps % self.loss.n_critic)
