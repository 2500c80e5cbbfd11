"""InfoGAN (Chen et al. 2016): disentangled latent codes by maximizing their mutual information with G's output."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from gan_experiments.losses import GANLoss
from gan_experiments.models.base import OptimizerFactory
from gan_experiments.models.gan import GANModule
from gan_experiments.models.inference import eval_mode
from gan_experiments.networks.infogan import InfoGANDiscriminator


class InfoGANModule(GANModule):
    """min_{G,Q} max_D V(D, G) - lambda L_I(G, Q)   (paper eq. 6), with the variational lower bound

        L_I = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c)

    G's input is concat(z, one_hot(c_cat), c_cont): z ~ N(0, I) [noise_dim], c_cat ~ Cat(K) uniform,
    c_cont ~ U(-1, 1) [L]. Q shares D's trunk; log Q(c|x) is -CE(Q_cat(x), c_cat) for the categorical code
    and, for the continuous codes, a unit-variance Gaussian log-likelihood: -(Q_cont(x) - c_cont)^2 / 2
    (+ const), weighted by ``lambda_continuous``. As the authors' code, the information loss
    lambda_info · (CE + lambda_continuous · MSE / 2) is added to both the discriminator's loss (training D's
    trunk and Q) and the generator's (training G).

    ``sample(z)`` takes z [N, noise_dim + L]: its last L coordinates become the continuous codes through
    the normal CDF (2 Phi(z) - 1 ~ U(-1, 1)) and row i gets category i mod K, so fixed-z grids and metrics
    need no special handling. Logged: train/info (the information loss), train/q_accuracy (Q's accuracy on
    the categorical code of the fakes), plus GANModule's.
    """

    def __init__(self, generator: nn.Module, discriminator: InfoGANDiscriminator, loss: GANLoss,
                 optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory, noise_dim: int = 62,
                 lambda_info: float = 1.0, lambda_continuous: float = 0.1, ema_decay: float = 0.0,
                 diffaugment: list[str] | None = None):
        super().__init__(generator, discriminator, loss, optimizer_g, optimizer_d, ema_decay, diffaugment)
        k, n_cont = discriminator.categorical, discriminator.continuous
        if generator.latent_dim != noise_dim + k + n_cont:
            raise ValueError(f"model.generator.latent_dim must be noise_dim + categorical + continuous = "
                             f"{noise_dim} + {k} + {n_cont} = {noise_dim + k + n_cont}, got {generator.latent_dim}")
        if loss.gp_weight or loss.r1_weight or loss.clip_value is not None:
            raise ValueError("model=infogan supports losses without critic penalties or clipping (bce, lsgan, hinge), "
                             f"not {loss!r}")
        if k < 2 or lambda_info < 0 or lambda_continuous < 0:
            raise ValueError("model.categorical must be >= 2 and the lambdas >= 0")
        self.noise_dim, self.categorical, self.continuous = noise_dim, k, n_cont
        self.lambda_info, self.lambda_continuous = lambda_info, lambda_continuous

    @property
    def latent_dim(self) -> int:
        """What ``sample`` takes: noise and the continuous codes (in Gaussian form)."""
        return self.noise_dim + self.continuous

    def generator_input(self, noise: torch.Tensor, categories: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        """concat(z [N, noise_dim], one_hot(c_cat) [N, K], c_cont [N, L])."""
        return torch.cat([noise, F.one_hot(categories, self.categorical).to(noise.dtype), continuous], dim=1)

    def random_codes(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        noise = torch.randn(n, self.noise_dim, device=self.device)
        categories = torch.randint(self.categorical, (n,), device=self.device)
        continuous = torch.rand(n, self.continuous, device=self.device) * 2 - 1
        return noise, categories, continuous

    def codes_from_latent(self, z: torch.Tensor, categories: torch.Tensor | None = None):
        """z [N, noise_dim + L] -> (noise, categories (i mod K unless given), continuous = 2 Phi(z_L) - 1)."""
        if categories is None:
            categories = torch.arange(len(z), device=z.device) % self.categorical
        continuous = torch.erf(z[:, self.noise_dim :] / math.sqrt(2))
        return z[:, : self.noise_dim], categories.to(z.device), continuous

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(concat(noise, c)) for z [N, noise_dim + L]; ``labels`` [N] (optional) fix the categorical code."""
        z = z.to(self.device)
        return self.sample_codes(*self.codes_from_latent(z, labels))

    @torch.no_grad()
    def sample_codes(self, noise: torch.Tensor, categories: torch.Tensor, continuous: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.sampler) as generator:
            return generator(self.generator_input(noise.to(self.device), categories.to(self.device),
                                                  continuous.to(self.device)), None)

    def info_loss(self, q_cat: torch.Tensor, q_cont: torch.Tensor, categories: torch.Tensor,
                  continuous: torch.Tensor) -> torch.Tensor:
        """CE(Q_cat, c_cat) + lambda_continuous · ||Q_cont - c_cont||^2 / 2 (mean over samples): -L_I + H(c)."""
        nll_cont = 0.5 * (q_cont - continuous).pow(2).sum(dim=1).mean() if self.continuous else q_cat.new_zeros(())
        return F.cross_entropy(q_cat, categories) + self.lambda_continuous * nll_cont

    def _critic_step(self, opt: Optimizer, real: torch.Tensor, labels) -> dict[str, torch.Tensor]:
        def losses() -> dict[str, torch.Tensor]:
            codes = self.random_codes(real.shape[0])
            with torch.no_grad():
                fake = self.generator(self.generator_input(*codes), None)
            d_real = self.discriminator(self.augment(real))
            d_fake, q_cat, q_cont = self.discriminator.forward_with_codes(self.augment(fake))
            adversarial = self.loss.criterion.discriminator_loss(d_real, d_fake)
            info = self.info_loss(q_cat, q_cont, codes[1], codes[2])
            return {"d_loss": adversarial + self.lambda_info * info, "d_real": d_real.mean(), "d_fake": d_fake.mean(),
                    "q_accuracy": (q_cat.argmax(1) == codes[1]).float().mean()}

        return self.optimize(opt, losses, "d_loss")

    def _generator_step(self, opt: Optimizer, n: int, labels) -> dict[str, torch.Tensor]:
        def losses() -> dict[str, torch.Tensor]:
            codes = self.random_codes(n)
            fake = self.generator(self.generator_input(*codes), None)
            d_fake, q_cat, q_cont = self.discriminator.forward_with_codes(self.augment(fake))
            info = self.info_loss(q_cat, q_cont, codes[1], codes[2])
            return {"g_loss": self.loss.criterion.generator_loss(d_fake) + self.lambda_info * info, "info": info}

        logs = self.optimize(opt, losses, "g_loss")
        self._update_ema()
        return logs
