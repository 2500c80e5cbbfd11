"""A GAN objective: an adversarial criterion, the critic's Lipschitz constraint and its step schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from gan_experiments.losses.adversarial import AdversarialLoss


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CriticSchedule:
    """Critic steps before each generator step as a function of the generator steps so far, g: the
    alternation of Arjovsky et al.'s own WGAN code (martinarjovsky/WassersteinGAN, main.py: ``Diters = 100``
    while ``gen_iterations < 25 or gen_iterations % 500 == 0``, else ``opt.Diters`` = 5), a critic trained
    far longer at the start and now and then, where the paper's Algorithm 1 uses n_critic = 5 throughout:

        n_critic(g) = warmup_n_critic   if g < warmup_generator_steps or g % warmup_every == 0
                      loss.n_critic     otherwise

    The defaults are the authors' values (``loss=wgan_clip_authors`` spells them out). ``loss=wgan_clip``
    has no schedule by default, following the paper's Algorithm 1: it is the protocol the paper states, and
    the authors' warm-up costs 25 x 100 = 2,500 critic batches for 25 generator steps, too many for short
    CPU runs. WGAN-GP's authors use a constant 5 (``loss=wgan_gp``, no schedule). With
    ``generator_step_at_epoch_end`` (their loop too: its critic loop stops at the data loader's end, then G
    steps), the last batch of an epoch is followed by a generator step whatever the count, and the next
    epoch starts a new block; False makes the batches one stream across epochs.

    warmup_generator_steps: generator steps at the start that get ``warmup_n_critic`` critic steps (25).
    warmup_n_critic: critic steps before each of those generator steps (100).
    warmup_every: every ``warmup_every``-th generator step (g = 0, 500, 1000, ...) also gets
        ``warmup_n_critic``; None for never (500).
    generator_step_at_epoch_end: a generator step after each epoch's last batch (True).
    """

    warmup_generator_steps: int = 25
    warmup_n_critic: int = 100
    warmup_every: int | None = 500
    generator_step_at_epoch_end: bool = True

    def __post_init__(self):
        checks = [
            ("warmup_generator_steps", _int(self.warmup_generator_steps) and self.warmup_generator_steps >= 0,
             "an integer >= 0"),
            ("warmup_n_critic", _int(self.warmup_n_critic) and self.warmup_n_critic >= 1, "an integer >= 1"),
            ("warmup_every", self.warmup_every is None or (_int(self.warmup_every) and self.warmup_every >= 1),
             "an integer >= 1, or null for never"),
            ("generator_step_at_epoch_end", isinstance(self.generator_step_at_epoch_end, bool), "true or false"),
        ]
        for name, ok, accepts in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: expected {accepts}")

    def n_critic(self, generator_steps: int, n_critic: int) -> int:
        """Critic steps before the generator step that follows ``generator_steps`` generator steps."""
        periodic = self.warmup_every is not None and generator_steps % self.warmup_every == 0
        return self.warmup_n_critic if generator_steps < self.warmup_generator_steps or periodic else n_critic


def _schedule_from(fields_: Mapping[str, Any]) -> CriticSchedule:
    """A ``CriticSchedule`` from a mapping of its fields (``{}``: the defaults), unknown ones refused."""
    names = [field.name for field in fields(CriticSchedule)]
    unknown = sorted(set(fields_) - set(names))
    if unknown:
        raise ValueError(f"critic_schedule has no field {', '.join(map(repr, unknown))}: its fields are {', '.join(names)}")
    try:
        return CriticSchedule(**dict(fields_))
    except ValueError as err:
        raise ValueError(f"critic_schedule.{err}") from err


class GANLoss:
    """What the ``loss`` config group builds (``_target_: gan_experiments.losses.GANLoss``; a plain class:
    Hydra would turn a dataclass passed to ``instantiate`` into a config node).

    criterion: the adversarial criterion (BCE, LSGAN, hinge, Wasserstein).
    n_critic: discriminator steps per generator step (5 for WGAN and WGAN-GP); each sees a fresh real batch.
    critic_schedule: None for ``n_critic`` throughout (WGAN's Algorithm 1, WGAN-GP); a ``CriticSchedule`` for
        a number of critic steps that depends on the generator steps so far (the WGAN authors' code).
    gp_weight: lambda of the WGAN-GP gradient penalty (10 in the paper); 0 disables it.
    r1_weight: gamma of the R1 penalty on real data, added as gamma / 2 * R1 (Mescheder et al. 2018); 0 disables it.
    clip_value: c of WGAN weight clipping (0.01 in the paper); None disables it.
    critic_norm: the normalization this objective needs in the critic, which the discriminator configs read
        (``norm: ${loss.critic_norm}``): ``batch`` for the classic losses, ``layer`` for WGAN-GP (a per-sample
        norm, as its gradient penalty is per sample), ``none`` for StyleGAN's R1 loss.
    critic_schedule also takes a mapping of ``CriticSchedule``'s fields (``'loss.critic_schedule={}'`` on the
    command line: the WGAN authors' schedule); an unknown field is a ``ValueError`` naming it.
    """

    def __init__(
        self,
        criterion: AdversarialLoss,
        n_critic: int = 1,
        gp_weight: float = 0.0,
        clip_value: float | None = None,
        r1_weight: float = 0.0,
        critic_schedule: CriticSchedule | Mapping[str, Any] | None = None,
        critic_norm: str = "batch",
    ):
        if isinstance(critic_schedule, Mapping):
            critic_schedule = _schedule_from(critic_schedule)
        self.critic_norm = critic_norm
        self.criterion, self.n_critic, self.clip_value = criterion, n_critic, clip_value
        self.gp_weight, self.r1_weight, self.critic_schedule = gp_weight, r1_weight, critic_schedule
        if not isinstance(self.n_critic, int) or self.n_critic < 1:
            raise ValueError(f"n_critic must be an integer >= 1, got {self.n_critic!r}")
        if critic_schedule is not None and not isinstance(critic_schedule, CriticSchedule):
            raise ValueError(f"critic_schedule must be a CriticSchedule, a mapping of its fields or None, "
                             f"got {critic_schedule!r}")
        if self.gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight!r}")
        if self.r1_weight < 0:
            raise ValueError(f"r1_weight must be >= 0, got {self.r1_weight!r}")
        if self.clip_value is not None and self.clip_value <= 0:
            raise ValueError(f"clip_value must be > 0 or null, got {self.clip_value!r}")

    def __repr__(self) -> str:
        return (
            f"GANLoss({self.criterion!r}, n_critic={self.n_critic}, gp_weight={self.gp_weight}, "
            f"clip_value={self.clip_value}, r1_weight={self.r1_weight}, critic_schedule={self.critic_schedule}, "
            f"critic_norm={self.critic_norm!r})"
        )

    def critic_steps_before(self, generator_steps: int) -> int:
        """Critic steps before the generator step that follows ``generator_steps`` generator steps:
        ``n_critic``, or what ``critic_schedule`` says."""
        if self.critic_schedule is None:
            return self.n_critic
        return self.critic_schedule.n_critic(generator_steps, self.n_critic)

    def check_discriminator(self, discriminator: nn.Module) -> None:
        """Gradient penalties are per sample; batch norm couples samples and invalidates them (WGAN-GP, sec. 4)."""
        if (self.gp_weight > 0 or self.r1_weight > 0) and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
            raise ValueError(
                "a gradient penalty (gp_weight or r1_weight) is not valid with batch norm in the critic; "
                "use model.discriminator.norm=layer (or instance/none)"
            )
