"""StyleGAN2 training (Karras et al. 2020) with adaptive discriminator augmentation (ADA, Karras et al. 2020b),
as NVlabs/stylegan2-ada-pytorch ``training_loop.py`` and ``loss.py`` run it."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from gan_experiments.losses.auxiliary import auxiliary_classification_loss
from gan_experiments.losses.path_length import PathLengthPenalty
from gan_experiments.losses.penalties import r1_of
from gan_experiments.losses.stylegan2 import StyleGAN2Loss, lazy_adam_correction
from gan_experiments.models.base import AdversarialModule, OptimizerFactory
from gan_experiments.models.capabilities import StyleSpaceGenerator
from gan_experiments.models.inference import eval_mode
from gan_experiments.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from gan_experiments.training.ada import AdaptiveAugment, AugmentPipe


def ema_beta(batch_size: int, images_seen: int, ema_kimg: float, ema_rampup: float | None) -> float:
    """G_ema's decay per minibatch from its half-life in images (NVlabs): with h = ema_kimg · 1000, or
    min(h, images_seen · ema_rampup) during the ramp-up, beta = 0.5^(batch_size / h), so G_ema forgets half
    of its past every h images whatever the batch size."""
    half_life = ema_kimg * 1000
    if ema_rampup is not None:
        half_life = min(half_life, images_seen * ema_rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


class StyleGAN2Module(AdversarialModule, StyleSpaceGenerator):
    """One training iteration per real batch x [N, C, S, S] (labels y [N] for a conditional model), the
    phases of NVlabs in order, each with fresh z ~ N(0, I) [N, latent_dim]:

        Gmain                        minimize L_G = E[softplus(-D(T(G(z, c)), c))] (+ aux CE for AC-GAN)
        Greg   every pl_interval     minimize pl_interval · pl_weight · (||J_wᵀ y|| - a)², batch N / pl_batch_shrink
        Dmain                        minimize E[softplus(D(T(G(z, c)), c))] + E[softplus(-D(T(x), y))] (+ aux CE)
        Dreg   every r1_interval     minimize r1_interval · gamma / 2 · ||∇_x D(T(x), y)||²
        G_ema <- beta G_ema + (1 - beta) G,  beta = ema_beta(global batch, images seen, ema_kimg, ema_rampup)
        ADA    every ada.interval batches: p <- max(0, p + sign(r_t - target) · batch · interval / (kimg · 1000)),
               r_t = E[sign(D(T(x)))] over those batches

    T is ``augment`` (ADA's pipeline; identity when None): everything D sees passes through it, R1 is the
    gradient with respect to the un-augmented reals, as NVlabs. G(z, c): the mapping's w for every layer,
    with probability ``style_mixing_prob`` a second z's w from a random layer on (mixing regularization).
    The penalties with an interval of None run inside the main phases (no separate step). G's and D's
    Adam get the lazy regularization correction (``lazy_adam_correction``). Class labels of the fakes are
    the real batch's labels in a random order (the data's label distribution, as NVlabs draws dataset labels).

    Saved with the weights: G_ema, ADA's p and its accumulated statistics, the path length mean a; in the
    checkpoint's own keys: images seen and minibatches done (the lazy and ADA intervals, EMA ramp-up), so a
    resume continues exactly. Logged: train/g_loss, d_loss, d_real, d_fake, g_reg (pl penalty), pl_length,
    pl_mean, d_reg (R1), ada_p, ada_rt (when ADA adapts), d_aux / g_aux (AC-GAN).
    With an AC-GAN discriminator (``conditioning=acgan``) both main phases add ``aux_weight`` x the auxiliary
    classification loss (``losses.auxiliary``: D on reals and fakes, G on fakes), as model=cgan does.
    Declares ``StyleSpaceGenerator``: sample, styles and synthesize use G_ema; ``psi`` truncates in W.
    """

    def __init__(self, generator: StyleGAN2Generator, discriminator: StyleGAN2Discriminator, loss: StyleGAN2Loss,
                 optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory, style_mixing_prob: float = 0.9,
                 ema_kimg: float = 10.0, ema_rampup: float | None = None, augment: AugmentPipe | None = None,
                 ada: AdaptiveAugment | None = None, aux_weight: float = 1.0):
        super().__init__()
        if not isinstance(loss, StyleGAN2Loss):
            raise TypeError(f"model=stylegan2 trains with loss=stylegan2 (a StyleGAN2Loss), got {loss!r}")
        if not 0 <= style_mixing_prob <= 1:
            raise ValueError(f"model.style_mixing_prob must be in [0, 1], got {style_mixing_prob}")
        if ema_kimg < 0 or (ema_rampup is not None and ema_rampup <= 0):
            raise ValueError(f"model.ema_kimg must be >= 0 and model.ema_rampup > 0 or null, got {ema_kimg}, {ema_rampup}")
        if ada is not None and augment is None:
            raise ValueError("model.ada adapts the augmentation probability: it needs model.augment (an AugmentPipe)")
        if not aux_weight >= 0:
            raise ValueError(f"model.aux_weight must be >= 0, got {aux_weight}")
        if generator.num_classes != discriminator.num_classes:
            raise ValueError("model.generator.num_classes and model.discriminator.num_classes must agree")
        self.generator, self.discriminator, self.loss = generator, discriminator, loss
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.style_mixing_prob, self.ema_kimg, self.ema_rampup = style_mixing_prob, ema_kimg, ema_rampup
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False).eval()
        self.augment = augment if augment is not None else nn.Identity()
        self.ada, self.aux_weight = ada, aux_weight
        self.path_length = PathLengthPenalty(loss.pl_decay)
        self.images_seen = self.batches_done = 0

    # --- what the framework asks of a generator ---------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    @property
    def sampler(self) -> StyleGAN2Generator:
        return self.generator_ema

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float | None = None,
               truncation_layers: int | None = None) -> torch.Tensor:
        """G_ema(z, c) [N, C, S, S] in eval mode; ``psi`` truncates the first ``truncation_layers`` in W."""
        with eval_mode(self.generator_ema) as generator:
            return generator(z.to(self.device), None if labels is None else labels.to(self.device), psi, truncation_layers)

    @torch.no_grad()
    def styles(self, z: torch.Tensor, z_mix: torch.Tensor | None = None, crossover: int | None = None) -> torch.Tensor:
        with eval_mode(self.generator_ema) as generator:
            ws = generator.styles(z.to(self.device))
            if z_mix is not None and crossover is not None:
                ws = generator.mix_styles(ws, z_mix.to(self.device), None, crossover)
            return ws

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        with eval_mode(self.generator_ema) as generator:
            return generator.synthesize(ws.to(self.device), noise)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)

    # --- training -------------------------------------------------------------------------------------
    def configure_optimizers(self):
        return [lazy_adam_correction(self.optimizer_g(self.generator.parameters()), self._lazy(self.loss.pl_interval, self.loss.pl_weight)),
                lazy_adam_correction(self.optimizer_d(self.discriminator.parameters()), self._lazy(self.loss.r1_interval, self.loss.r1_gamma))]

    @staticmethod
    def _lazy(interval: int | None, weight: float) -> int | None:
        """The interval of a penalty that runs as its own phase; None when it is off or not lazy."""
        return interval if weight > 0 else None

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        real, labels = batch
        labels = labels if self.num_classes else None
        opt_g, opt_d = self.optimizers()
        n, k = real.shape[0], self.batches_done
        pl_lazy, r1_lazy = self._lazy(self.loss.pl_interval, self.loss.pl_weight), self._lazy(self.loss.r1_interval, self.loss.r1_gamma)
        logs = self.optimize(opt_g, lambda: self._generator_main(n, labels, with_pl=self.loss.pl_weight > 0 and pl_lazy is None), "g_loss")
        if pl_lazy is not None and k % pl_lazy == 0:
            logs |= self.optimize(opt_g, lambda: self._generator_pl(n, labels, gain=pl_lazy), "g_reg")
        logs |= self.optimize(opt_d, lambda: self._discriminator_main(real, labels, with_r1=self.loss.r1_gamma > 0 and r1_lazy is None), "d_loss")
        if r1_lazy is not None and k % r1_lazy == 0:
            logs |= self.optimize(opt_d, lambda: self._discriminator_r1(real, labels, gain=r1_lazy), "d_reg")
        batch_total = n * self.trainer.world_size
        self._update_ema(ema_beta(batch_total, self.images_seen, self.ema_kimg, self.ema_rampup))
        self.images_seen += batch_total
        self.batches_done += 1
        logs |= self._adapt_augmentation(n)
        return self.log_losses(logs)

    def _fake_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        return None if labels is None else labels[torch.randperm(len(labels), device=labels.device)[:n]]

    def _run_generator(self, n: int, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(G(z, c) [n, C, S, S], the ws it came from [n, L, W]) with style mixing regularization."""
        z = torch.randn(n, self.latent_dim, device=self.device)
        ws = self.generator.styles(z, labels)
        if self.style_mixing_prob > 0 and torch.rand(()) < self.style_mixing_prob:
            cutoff = int(torch.randint(1, self.generator.num_ws, ()))
            ws = self.generator.mix_styles(ws, torch.randn_like(z), labels, cutoff)
        return self.generator.synthesize(ws), ws

    def _run_discriminator(self, images: torch.Tensor, labels: torch.Tensor | None):
        """(logits [N], class logits [N, K] or None) of D on T(images)."""
        return self.discriminator.logits_and_classes(self.augment(images), labels)

    def _generator_main(self, n: int, labels: torch.Tensor | None, with_pl: bool) -> dict[str, torch.Tensor]:
        c = self._fake_labels(labels, n)
        fake, _ = self._run_generator(n, c)
        logits, classes = self._run_discriminator(fake, c)
        terms = {"g_loss": self.loss.criterion.generator_loss(logits)}
        if classes is not None:
            terms["g_aux"] = auxiliary_classification_loss(classes, c)
            terms["g_loss"] = terms["g_loss"] + self.aux_weight * terms["g_aux"]
        if with_pl:
            pl = self._generator_pl(n, labels, gain=1)
            terms |= {name: value for name, value in pl.items() if name != "g_reg"}
            terms["g_loss"] = terms["g_loss"] + pl["g_reg"]
        return terms

    def _generator_pl(self, n: int, labels: torch.Tensor | None, gain: int) -> dict[str, torch.Tensor]:
        m = max(n // self.loss.pl_batch_shrink, 1)
        fake, ws = self._run_generator(m, self._fake_labels(labels, m))
        penalty, lengths = self.path_length(fake, ws)
        # fake[:, 0, 0, 0] * 0 keeps every synthesis parameter in the graph (DDP), as NVlabs
        reg = (fake[:, 0, 0, 0].float() * 0 + penalty * self.loss.pl_weight).mean() * gain
        return {"g_reg": reg, "pl_penalty": penalty.detach().mean(), "pl_length": lengths.detach().mean(),
                "pl_mean": self.path_length.pl_mean.detach().clone()}

    def _discriminator_main(self, real: torch.Tensor, labels: torch.Tensor | None, with_r1: bool) -> dict[str, torch.Tensor]:
        c = self._fake_labels(labels, real.shape[0])
        with torch.no_grad():
            fake, _ = self._run_generator(real.shape[0], c)
        if with_r1:
            real = real.detach().requires_grad_(True)
        fake_logits, fake_classes = self._run_discriminator(fake, c)
        real_logits, real_classes = self._run_discriminator(real, labels)
        self._accumulate_ada(real_logits)
        loss = self.loss.criterion.discriminator_loss(real_logits, fake_logits)
        terms = {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}
        if real_classes is not None:
            terms["d_aux"] = auxiliary_classification_loss(real_classes, labels) + auxiliary_classification_loss(fake_classes, c)
            terms["d_real_class_acc"] = (real_classes.detach().argmax(1) == labels).float().mean()
            loss = loss + self.aux_weight * terms["d_aux"]
        if with_r1:
            terms["r1"] = r1_of(real_logits, real)
            loss = loss + self.loss.r1_gamma / 2 * terms["r1"]
        terms["d_loss"] = loss
        return terms

    def _discriminator_r1(self, real: torch.Tensor, labels: torch.Tensor | None, gain: int) -> dict[str, torch.Tensor]:
        real = real.detach().requires_grad_(True)
        logits, _ = self._run_discriminator(real, labels)
        self._accumulate_ada(logits)  # NVlabs' r_t counts D(x_real) of the R1 minibatches too
        r1 = r1_of(logits, real)
        # logits * 0 keeps D's parameters in the graph (DDP), as NVlabs
        reg = (logits.float() * 0).mean() + r1 * (self.loss.r1_gamma / 2) * gain
        return {"d_reg": reg, "r1": r1.detach()}

    def _accumulate_ada(self, real_logits: torch.Tensor) -> None:
        if self.ada is not None:
            self.ada.accumulate(real_logits.detach())

    def _adapt_augmentation(self, local_batch: int) -> dict[str, torch.Tensor]:
        """ADA's adjustment after the batch (every ``ada.interval``-th; the controller sums the statistics
        and the image counts over DDP ranks): {ada_p, ada_rt when it adjusted}; {} without an AugmentPipe."""
        if not isinstance(self.augment, AugmentPipe):
            return {}
        logs = {}
        if self.ada is not None:
            rt = self.ada.step(self.augment, local_batch)
            if rt is not None:
                logs["ada_rt"] = torch.tensor(rt, device=self.device)
        return logs | {"ada_p": self.augment.p.detach().clone()}

    @torch.no_grad()
    def _update_ema(self, beta: float) -> None:
        ema_params, params = list(self.generator_ema.parameters()), list(self.generator.parameters())
        torch._foreach_lerp_(ema_params, params, 1 - beta)  # ema <- ema + (1 - beta)(p - ema) = beta ema + (1 - beta) p
        for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            ema_buffer.copy_(buffer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["images_seen"] = self.images_seen
        checkpoint["batches_done"] = self.batches_done

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.images_seen = checkpoint.get("images_seen", 0)
        self.batches_done = checkpoint.get("batches_done", 0)

