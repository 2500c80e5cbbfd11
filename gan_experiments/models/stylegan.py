"""StyleGAN training (Karras et al. 2019): GANModule's alternating steps with progressive growing."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gan_experiments.losses import GANLoss
from gan_experiments.models.gan import GANModule, OptimizerFactory
from gan_experiments.models.inference import eval_mode
from gan_experiments.networks.stylegan import StyleGANDiscriminator, StyleGANGenerator
from gan_experiments.training import ProgressiveSchedule


class StyleGANModule(GANModule):
    """The GAN steps of ``GANModule`` (default loss: non-saturating logistic + R1, ``loss=logistic_r1``;
    ``loss=wgan_gp`` is ProGAN's) on a StyleGAN generator and discriminator that grow progressively:

        (level, alpha) = schedule(images shown to D so far)  -> set on G, D and G_ema before every batch
        real images are average-pooled to the current resolution 4 · 2^level

    Style mixing and the w̄ average happen inside the generator (training mode). ``sample`` returns images
    at the data resolution (nearest upsampling while training runs at a lower one) from G_ema (``ema_decay``,
    0.999 by default as StyleGAN's Gs), optionally truncated in W (``psi``, ``truncation_layers``).
    The image count is saved in checkpoints, so a resume continues at the same level and alpha.
    Logged: train/resolution, train/alpha, plus GANModule's losses.
    """

    truncation_space = "w"  # the truncation trick acts on w (tools pass psi to ``sample``)

    def __init__(self, generator: StyleGANGenerator, discriminator: StyleGANDiscriminator, loss: GANLoss,
                 optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory, ema_decay: float = 0.999,
                 progressive: bool = True, fade_images: int = 600_000, stable_images: int = 600_000,
                 diffaugment: list[str] | None = None):
        super().__init__(generator, discriminator, loss, optimizer_g, optimizer_d, ema_decay, diffaugment)
        if generator.synthesis.num_levels != discriminator.num_levels:
            raise ValueError("generator and discriminator must be built for the same data.image_size")
        self.schedule = ProgressiveSchedule(discriminator.num_levels, fade_images, stable_images, progressive)
        self.images_seen = 0
        self.set_progress(*self.schedule.phase(0))

    def set_progress(self, level: int, alpha: float) -> None:
        for network in (self.generator, self.discriminator, self.sampler):
            network.set_progress(level, alpha)

    @property
    def full_resolution(self) -> int:
        return self.generator.output_shape[-1]

    def training_step(self, batch, batch_idx: int):
        real, labels = batch
        level, alpha = self.schedule.phase(self.images_seen)
        self.set_progress(level, alpha)
        resolution = 4 * 2**level
        if real.shape[-1] != resolution:
            real = F.adaptive_avg_pool2d(real, resolution)
        logs = super().training_step((real, labels), batch_idx)
        self.images_seen += real.shape[0] * self.trainer.world_size
        self.log("train/resolution", float(resolution), on_step=True, on_epoch=False)
        self.log("train/alpha", alpha, on_step=True, on_epoch=False)
        return logs

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float | None = None,
               truncation_layers: int | None = None) -> torch.Tensor:
        """G_ema(z) [N, C, S, S] at the data resolution S, in eval mode; ``psi`` truncates in W."""
        if labels is not None:
            raise ValueError("model=stylegan is unconditional: labels were passed")
        with eval_mode(self.sampler) as generator:
            return self.to_full_resolution(generator(z.to(self.device), psi=psi, truncation_layers=truncation_layers))

    @torch.no_grad()
    def styles(self, z: torch.Tensor, z_mix: torch.Tensor | None = None, crossover: int | None = None) -> torch.Tensor:
        """ws [N, num_ws, W] of G_ema for z (and z_mix from layer ``crossover`` on)."""
        return self.sampler.styles(z.to(self.device), None if z_mix is None else z_mix.to(self.device), crossover)

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """G_ema's images [N, C, S, S] at the data resolution from per-layer styles ws [N, num_ws, W]."""
        with eval_mode(self.sampler) as generator:
            return self.to_full_resolution(generator.synthesize(ws.to(self.device), noise))

    def to_full_resolution(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] == self.full_resolution:
            return images
        return F.interpolate(images, size=self.full_resolution, mode="nearest")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["images_seen"] = self.images_seen

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.images_seen = checkpoint.get("images_seen", 0)
        self.set_progress(*self.schedule.phase(self.images_seen))
