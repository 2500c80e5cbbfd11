"""What Pix2Pix and CycleGAN share: the adversarial criterion check, the optimizers with their linear-decay
schedules, per-epoch scheduler steps, loss logging and inference (``translate``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from lightning import LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from gan_experiments.losses import GANLoss
from gan_experiments.models.inference import TEST_MODES, eval_mode, paper_test_mode
from gan_experiments.training import LinearDecay

OptimizerFactory = Callable[[Any], Optimizer]


def check_translation_loss(loss: GANLoss, model: str) -> None:
    """Translation models take one discriminator step per generator step and no critic constraint."""
    if (loss.n_critic != 1 or loss.gp_weight or loss.r1_weight or loss.clip_value is not None
            or loss.critic_schedule is not None):
        raise ValueError(
            f"{model} trains D and G once per batch without gradient penalties or clipping: use loss=lsgan "
            f"(CycleGAN), loss=bce (pix2pix) or loss=hinge, not {loss!r}"
        )


class TranslationModule(LightningModule):
    """Base of the image-to-image models: subclasses name their generators by direction in ``translators``
    (e.g. {"a2b": "generator_ab"}: attribute names, so checkpoints hold each network once).

    Optimizers are [generators', discriminators'], each with a ``LinearDecay(n_epochs, n_epochs_decay)``
    schedule stepped at the end of every epoch (logged by LearningRateMonitor as lr/generators and
    lr/discriminators; saved in and restored from checkpoints by Lightning).
    """

    translators: dict[str, str] = {}
    # how ``translate`` runs the generator: "eval" (running statistics, no dropout) or "paper" (pix2pix's
    # test protocol: dropout on, each image's own batch-norm statistics; see ``paper_test_mode``)
    test_mode: str = "eval"

    def __init__(self, loss: GANLoss, optimizer_g: OptimizerFactory, optimizer_d: OptimizerFactory,
                 n_epochs: int = 100, n_epochs_decay: int = 100):
        super().__init__()
        self.automatic_optimization = False
        check_translation_loss(loss, type(self).__name__)
        self.criterion = loss.criterion
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

    def on_train_epoch_end(self) -> None:
        for scheduler in self.lr_schedulers():
            scheduler.step()

    def optimize(self, opt: Optimizer, losses: Callable[[], dict[str, torch.Tensor]], total: str) -> dict[str, torch.Tensor]:
        """One manual-optimization step of ``opt`` on ``losses()[total]``, AMP scaler and DDP aware. The
        losses are computed after ``toggle_optimizer``, so the other networks' parameters do not require
        gradients meanwhile (the reference's ``set_requires_grad(..., False)``). Returns the detached terms."""
        self.toggle_optimizer(opt)
        terms = losses()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(terms[total])
        opt.step()
        self.untoggle_optimizer(opt)
        return {name: value.detach() for name, value in terms.items()}

    def log_losses(self, logs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sync = self.trainer.world_size > 1
        for name, value in logs.items():
            shown = name in ("d_loss", "g_loss")
            self.log(f"train/{name}", value, on_step=True, on_epoch=True, prog_bar=shown, sync_dist=sync)
        return logs

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
