"""A GAN objective: an adversarial criterion, the critic's Lipschitz constraint and its step schedule."""

from __future__ import annotations

from torch import nn

from gan_experiments.losses.adversarial import AdversarialLoss


class GANLoss:
    """What the ``loss`` config group describes, minus its optimizers (a plain class: Hydra would turn a
    dataclass passed to ``instantiate`` into a config node).

    criterion: the adversarial criterion (BCE, LSGAN, hinge, Wasserstein).
    n_critic: discriminator steps per generator step (5 for WGAN and WGAN-GP); each sees a fresh real batch.
    gp_weight: lambda of the WGAN-GP gradient penalty (10 in the paper); 0 disables it.
    r1_weight: gamma of the R1 penalty on real data, added as gamma / 2 * R1 (Mescheder et al. 2018); 0 disables it.
    clip_value: c of WGAN weight clipping (0.01 in the paper); None disables it.
    """

    def __init__(
        self,
        criterion: AdversarialLoss,
        n_critic: int = 1,
        gp_weight: float = 0.0,
        clip_value: float | None = None,
        r1_weight: float = 0.0,
    ):
        self.criterion, self.n_critic, self.clip_value = criterion, n_critic, clip_value
        self.gp_weight, self.r1_weight = gp_weight, r1_weight
        if not isinstance(self.n_critic, int) or self.n_critic < 1:
            raise ValueError(f"n_critic must be an integer >= 1, got {self.n_critic!r}")
        if self.gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight!r}")
        if self.r1_weight < 0:
            raise ValueError(f"r1_weight must be >= 0, got {self.r1_weight!r}")
        if self.clip_value is not None and self.clip_value <= 0:
            raise ValueError(f"clip_value must be > 0 or null, got {self.clip_value!r}")

    def __repr__(self) -> str:
        return (
            f"GANLoss({self.criterion!r}, n_critic={self.n_critic}, gp_weight={self.gp_weight}, "
            f"clip_value={self.clip_value}, r1_weight={self.r1_weight})"
        )

    def check_discriminator(self, discriminator: nn.Module) -> None:
        """Gradient penalties are per sample; batch norm couples samples and invalidates them (WGAN-GP, sec. 4)."""
        if (self.gp_weight > 0 or self.r1_weight > 0) and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
            raise ValueError(
                "a gradient penalty (gp_weight or r1_weight) is not valid with batch norm in the critic; "
                "use model.discriminator.norm=layer (or instance/none)"
            )
