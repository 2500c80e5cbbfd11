"""What Pix2Pix and CycleGAN share: the adversarial criterion check, the optimizers with their linear-decay
schedules, per-epoch scheduler steps and inference (``translate``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from gan_experiments.losses import AdversarialLoss, GANLoss, WassersteinLoss
from gan_experiments.models.base import AdversarialModule, OptimizerFactory
from gan_experiments.models.inference import TEST_MODES, eval_mode, paper_test_mode
from gan_experiments.training import LinearDecay

# the reference's schedule trains its last epoch at rate 0: warn when that epoch is more of the run than this
MAX_ZERO_RATE_SHARE = 0.1


def check_criterion(criterion: Any, model: str, unexpected: dict[str, Any]) -> None:
    """Translation models take the adversarial criterion alone (``criterion: ${loss.criterion}``), one D
    step per G step and no critic constraint, so no Wasserstein critic; ``unexpected``: other keywords."""
    if "loss" in unexpected or isinstance(criterion, GANLoss):
        raise TypeError(
            f"{model} takes criterion= (the adversarial criterion, e.g. gan_experiments.losses.LSGANLoss(); in a "
            f"config: criterion: ${{loss.criterion}}), not loss= (a GANLoss)"
        )
    if unexpected:
        raise TypeError(f"{model} got unexpected keyword arguments: {', '.join(unexpected)}")
    if not isinstance(criterion, AdversarialLoss):
        raise TypeError(f"{model}'s criterion must be a gan_experiments.losses.AdversarialLoss, got {criterion!r}")
    if isinstance(criterion, WassersteinLoss):
        raise ValueError(
            f"{model} trains D and G once per batch without gradient penalties or clipping: use loss=lsgan "
            f"(CycleGAN), loss=bce (pix2pix) or loss=hinge, not a Wasserstein critic ({criterion!r})"
        )


class TranslationModule(AdversarialModule):
    """Base of the image-to-image models: subclasses name their generators by direction in ``translators``
    (e.g. {"a2b": "generator_ab"}: attribute names, so checkpoints hold each network once).

    ``criterion`` is the adversarial criterion alone (the ``loss`` group's ``loss.criterion``): these models
    take one D step per G step without penalties or clipping; the module sees only the criterion, so a loss
    group's n_critic, penalties or clipping are for the config checks to refuse. Optimizers are [generators', discriminators'], each with a ``LinearDecay(n_epochs, n_epochs_decay)``
    schedule stepped at the end of every epoch (logged by LearningRateMonitor as lr/generators and
    lr/discriminators; saved in and restored from checkpoints by Lightning).
    """

    translators: dict[str, str] = {}
    # how ``translate`` runs the generator: "eval" (running statistics, no dropout) or "paper" (pix2pix's
    # test protocol: dropout on, each image's own batch-norm statistics; see ``paper_test_mode``)
    test_mode: str = "eval"

    def __init__(self, criterion: AdversarialLoss, optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory,
                 n_epochs: int = 100, n_epochs_decay: int = 100, **unexpected: Any):
        super().__init__()
        check_criterion(criterion, type(self).__name__, unexpected)
        self.criterion = criterion
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.schedule = LinearDecay(n_epochs, n_epochs_decay)

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(self.translators)

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        raise NotImplementedError

    def discriminator_parameters(self) -> Iterable[nn.Parameter]:
        raise NotImplementedError

    def configure_optimizers(self):
        opt_g = self.optimizer_g(list(self.generator_parameters()))
        opt_d = self.optimizer_d(list(self.discriminator_parameters()))
        schedulers = [
            {"scheduler": LambdaLR(opt, self.schedule), "interval": "epoch", "name": name}
            for opt, name in ((opt_g, "lr/generators"), (opt_d, "lr/discriminators"))
        ]
        return [opt_g, opt_d], schedulers

    def on_fit_start(self) -> None:
        total, budget = self.schedule.n_epochs + self.schedule.n_epochs_decay, self.trainer.max_epochs
        if budget is not None and budget > 0 and budget != total:
            rank_zero_warn(
                f"the learning-rate schedule spans model.n_epochs + model.n_epochs_decay = {total} epochs but "
                f"trainer.max_epochs={budget}: "
                + ("training stops before the rate has decayed to 0" if budget < total else
                   f"the rate is 0 from epoch {total} on (the reference's last epoch trains at 0 too), so epochs "
                   f"{total + 1}-{budget} leave the weights as they are")
                + "; set them to match"
            )
        elif budget == total and 0 < total < 1 / MAX_ZERO_RATE_SHARE:
            rank_zero_warn(
                f"the last of the {total} scheduled epochs trains at learning rate 0, as the reference's does: in a "
                f"run this short that is {100 / total:.0f} % of the training time leaving the weights as they are; "
                "schedule more, shorter epochs instead (e.g. trainer.limit_train_batches=0.25 with 4x model.n_epochs)"
            )

    def on_train_epoch_end(self) -> None:
        for scheduler in self.lr_schedulers():
            scheduler.step()

    def set_test_mode(self, mode: str) -> None:
        if mode not in TEST_MODES:
            raise ValueError(f"test_mode must be one of {', '.join(TEST_MODES)}, got {mode!r}")
        self.test_mode = mode

    def check_direction(self, direction: str) -> None:
        if direction not in self.translators:
            raise ValueError(f"direction={direction!r}: this {type(self).__name__} translates {', '.join(self.directions)}")

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """[N, C, H, W] in [-1, 1] -> translated [N, C', H, W] by ``test_mode`` (the module's mode is restored)."""
        self.check_direction(direction)
        generator, images = getattr(self, self.translators[direction]), images.to(self.device)
        with (paper_test_mode if self.test_mode == "paper" else eval_mode)(generator) as network:
            return network(images)

    def panel_columns(self, batch: tuple[torch.Tensor, torch.Tensor], direction: str) -> list[torch.Tensor]:
        """Columns of a sample panel for ``direction``: [input, translation, ...], each [N, C, H, W]."""
        raise NotImplementedError
