"""Evaluation of 2-D toy runs: mode coverage (logged) and a scatter plot of samples (saved and logged)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from lightning import Callback, LightningModule, Trainer  # noqa: E402

from gan_experiments.callbacks.common import epoch_is_due  # noqa: E402
from gan_experiments.callbacks.image_logging import log_image_file  # noqa: E402
from gan_experiments.metrics.mode_coverage import generator_mode_coverage  # noqa: E402


class Toy2DEvaluation(Callback):
    """Every ``every_n_epochs``, draws ``num_samples`` (2,500 in the papers) from G with a fixed z and logs
    ``val/modes_covered`` and ``val/high_quality_fraction`` (see ``metrics.mode_coverage``); rank 0 also
    saves ``samples/epoch_XXX.png``: generated points over the real modes.
    The datamodule must expose ``centres`` [K, 2] and ``std`` (``Toy2DDataModule`` does).
    """

    def __init__(self, dirpath: str, num_samples: int = 2500, min_count: int = 20, every_n_epochs: int = 1, seed: int = 0):
        self.dirpath, self.num_samples, self.min_count = Path(dirpath), num_samples, min_count
        self.every_n_epochs, self.seed = every_n_epochs, seed

    def evaluate(self, pl_module: LightningModule, centres: torch.Tensor, std: float) -> tuple[dict, torch.Tensor]:
        return generator_mode_coverage(pl_module, centres, std, self.num_samples, self.min_count, self.seed)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not epoch_is_due(trainer, self.every_n_epochs):
            return
        done = trainer.current_epoch + 1
        dm = trainer.datamodule
        scores, samples = self.evaluate(pl_module, dm.centres, dm.std)
        for name, value in scores.items():
            pl_module.log(f"val/{name}", value, prog_bar=True)
        if trainer.is_global_zero:
            path = self.plot(samples, dm.centres, scores, done)
            log_image_file(trainer, "samples", path)

    def plot(self, samples: torch.Tensor, centres: torch.Tensor, scores: dict, epoch: int) -> Path:
        fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
        ax.scatter(centres[:, 0], centres[:, 1], s=30, marker="x", color="tab:red", label="mode centres")
        limit = float(centres.abs().max()) * 1.5
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal")
        ax.set_title(
            f"epoch {epoch}: {scores['modes_covered']:.0f}/{len(centres)} modes, "
            f"{100 * scores['high_quality_fraction']:.1f}% high quality"
        )
        ax.legend(loc="upper right", fontsize=8)
        path = self.dirpath / f"epoch_{epoch:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        return path
