"""StyleGAN training (Karras et al. 2019): GANModule's alternating steps with progressive growing."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gan_experiments.losses import GANLoss
from gan_experiments.models.base import OptimizerFactory
from gan_experiments.models.capabilities import StyleSpaceGenerator
from gan_experiments.models.gan import GANModule
from gan_experiments.models.inference import eval_mode
from gan_experiments.networks.stylegan import StyleGANDiscriminator, StyleGANGenerator
from gan_experiments.training import ProgressiveSchedule


def fade_reals(real: torch.Tensor, resolution: int, alpha: float) -> torch.Tensor:
    """Real images as D must see them at ``resolution`` r while r fades in with ``alpha`` (NVlabs
    ``process_reals``, FadeLOD, at the network's resolution instead of upscaled to S), [N, C, S, S] -> [N, C, r, r]:

        x_r   = box_{S/r}(x)                  (S/r x S/r average, = dataset_tool's repeated 2x2 halving)
        reals = alpha · x_r + (1 - alpha) · upsample_nearest(avgpool_2(x_r))

    the same blend of two levels of detail as G's output, alpha · toRGB_r + (1 - alpha) · up(toRGB_{r/2});
    alpha = 1 is x_r itself."""
    size = real.shape[-1]
    if real.ndim != 4 or real.shape[-2] != size or size < resolution or size % resolution:
        raise ValueError(f"reals must be [N, C, S, S] with S a multiple of {resolution}, got {list(real.shape)}")
    x = real if size == resolution else F.avg_pool2d(real, size // resolution)
    if alpha < 1:
        low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = torch.lerp(low, x, alpha)  # low + alpha (x_r - low)
    return x


class StyleGANModule(GANModule, StyleSpaceGenerator):
    """The GAN steps of ``GANModule`` (default loss: non-saturating logistic + R1, ``loss=logistic_r1``;
    ``loss=wgan_gp`` is ProGAN's) on a StyleGAN generator and discriminator that grow progressively:

        (level, alpha) = schedule(images shown to D so far)  -> set on G, D and G_ema before every batch
        reals [N, C, S, S] -> fade_reals(reals, r, alpha) [N, C, r, r] at r = 4 · 2^level: box-filtered to r
            and, while r fades in, alpha · x_r + (1 - alpha) · up(avgpool_2(x_r)), as the fakes (NVlabs FadeLOD)
        with ``reset_optimizers`` (NVlabs ``reset_opt_for_new_lod``, true there and here): G's and D's optimizer
            state (Adam's moments and step count) is dropped whenever a level starts fading in and again when
            it is fully in, i.e. where floor(lod) or ceil(lod) changes (``ProgressiveSchedule.segment``)

    Style mixing and the w̄ average happen inside the generator (training mode). ``sample`` returns images
    at the data resolution (nearest upsampling while training runs at a lower one) from G_ema (``ema_decay``,
    0.999 by default as StyleGAN's Gs), optionally truncated in W (``psi``, ``truncation_layers``).
    The image count is saved in checkpoints, so a resume continues at the same level and alpha; so is the
    segment the optimizers' state belongs to, so a resume resets exactly where the uninterrupted run would
    (never inside a segment; NVlabs, which does not save Adam's state, resets on every resume).
    Logged: train/resolution, train/alpha, plus GANModule's losses.
    Declares ``StyleSpaceGenerator``: the truncation trick acts on w (tools pass psi to ``sample``).
    """

    def __init__(self, generator: StyleGANGenerator, discriminator: StyleGANDiscriminator, loss: GANLoss,
                 optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory, ema_decay: float = 0.999,
                 progressive: bool = True, fade_images: int = 600_000, stable_images: int = 600_000,
                 diffaugment: list[str] | None = None, reset_optimizers: bool = True):
        super().__init__(generator, discriminator, loss, optimizer_g, optimizer_d, ema_decay, diffaugment)
        if generator.synthesis.num_levels != discriminator.num_levels:
            raise ValueError("generator and discriminator must be built for the same data.image_size")
        self.schedule = ProgressiveSchedule(discriminator.num_levels, fade_images, stable_images, progressive)
        if not isinstance(reset_optimizers, bool):
            raise ValueError(f"model.reset_optimizers must be true or false, got {reset_optimizers!r}")
        self.reset_optimizers = reset_optimizers
        self.images_seen = 0
        self.optimizer_segment = self.schedule.segment(0)  # the schedule segment of the last trained batch
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
        self.enter_segment(self.schedule.segment(self.images_seen))
        resolution = 4 * 2**level
        real = fade_reals(real, resolution, alpha)
        logs = super().training_step((real, labels), batch_idx)
        self.images_seen += real.shape[0] * self.trainer.world_size
        self.log("train/resolution", float(resolution), on_step=True, on_epoch=False)
        self.log("train/alpha", alpha, on_step=True, on_epoch=False)
        return logs

    def enter_segment(self, segment: int) -> None:
        """Before a batch: on a new schedule segment, drop G's and D's optimizer state (``reset_optimizers``);
        torch's optimizers rebuild it from zero (Adam: m = v = 0, step 0) at their next step, as TF re-running
        the initializers of Adam's slots and beta powers (NVlabs ``tflib.Optimizer.reset_optimizer_state``)."""
        if segment == self.optimizer_segment:
            return
        if self.reset_optimizers:
            for opt in self.optimizers():
                opt.optimizer.state.clear()
        self.optimizer_segment = segment

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
        checkpoint["optimizer_segment"] = self.optimizer_segment

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.images_seen = checkpoint.get("images_seen", 0)
        # checkpoints from before this field: the segment of the next batch (no reset on resuming)
        self.optimizer_segment = checkpoint.get("optimizer_segment", self.schedule.segment(self.images_seen))
        self.set_progress(*self.schedule.phase(self.images_seen))
