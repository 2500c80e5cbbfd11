"""A convolutional VAE in the GAN framework, as the course's "alternative to GANs": the same data, loggers,
callbacks and metrics (sample grids from the prior, FID / KID / precision / recall), trained by maximizing
the ELBO (``losses.vae``) with one optimizer (automatic optimization: there is no adversary).

Shapes: x [N, C, S, S] in [-1, 1] -> encoder -> mu, logvar [N, Z] -> z = mu + sigma * eps -> decoder -> x_hat.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gan_experiments.losses.vae import negative_elbo
from gan_experiments.models.base import LossLogging, OptimizerFactory
from gan_experiments.models.capabilities import LatentGenerator
from gan_experiments.models.inference import eval_mode
from gan_experiments.networks.vae import ConvEncoder


class VAEModule(LossLogging, LatentGenerator):
    """``sigma``: the decoder's fixed std (smaller: sharper reconstructions, a posterior further from the
    prior); ``beta``: the KL weight (beta-VAE; larger: smoother, blurrier samples). ``optimizer_g`` is the
    ``optimizer=vae`` group's factory (``model.optimizer_g``), used for encoder and decoder together."""

    progress_bar_losses = ("loss",)

    def __init__(self, encoder: ConvEncoder, decoder: nn.Module, optimizer_g: OptimizerFactory,
                 sigma: float = 1.0, beta: float = 1.0):
        super().__init__()
        if encoder.latent_dim != decoder.latent_dim:
            raise ValueError(f"model.encoder.latent_dim={encoder.latent_dim} must equal "
                             f"model.decoder.latent_dim={decoder.latent_dim}")
        if sigma <= 0 or beta < 0:
            raise ValueError(f"model.sigma must be > 0 and model.beta >= 0, got {sigma} and {beta}")
        self.encoder, self.decoder, self.optimizer_g = encoder, decoder, optimizer_g
        self.sigma, self.beta = sigma, beta

    @property
    def latent_dim(self) -> int:
        return self.decoder.latent_dim

    @property
    def num_classes(self) -> int:
        return 0

    @property
    def sampler(self) -> nn.Module:
        return self.decoder

    def sample_latent(self, n: int) -> torch.Tensor:
        """z ~ p(z) = N(0, I), [n, latent_dim]."""
        return torch.randn(n, self.latent_dim, device=self.device)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder means for prior draws z [N, Z] -> [N, C, S, S], in eval mode."""
        if labels is not None:
            raise ValueError("model=vae is unconditional: labels were passed")
        with eval_mode(self.decoder) as decoder:
            return decoder(z.to(self.device))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decoder(mu(x)) for images x [N, C, S, S], in eval mode."""
        with eval_mode(self.encoder) as encoder, eval_mode(self.decoder) as decoder:
            return decoder(encoder(x.to(self.device))[0])

    def configure_optimizers(self):
        return self.optimizer_g([*self.encoder.parameters(), *self.decoder.parameters()])

    def training_step(self, batch: tuple[torch.Tensor, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        x = batch[0]
        mu, logvar = self.encoder(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        loss, reconstruction, kl = negative_elbo(x, self.decoder(z), mu, logvar, self.sigma, self.beta)
        return self.log_losses({"loss": loss, "reconstruction": reconstruction.detach(), "kl": kl.detach()})
