"""``checkpoints/best.ckpt``: Lightning's ``ModelCheckpoint`` on the metrics callback's headline metric."""

from __future__ import annotations

from lightning import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info

from gan_experiments.callbacks.capabilities import HasHeadlineMetric


class BestCheckpoint(ModelCheckpoint):
    """The best checkpoint so far by ``monitor`` (``mode``: min keeps the lowest), saved when the metrics
    are computed. ``monitor=None`` (the default) asks the trainer's metrics callback (one that declares
    ``HasHeadlineMetric``) at setup: its headline metric for this data (``GANMetrics``: val/fid;
    ``TranslationMetrics``: val/fid_a2b on unpaired data, val/fid on paired data) and its cadence
    (``every_n_epochs``). Without such a callback, or when it has no headline metric for the data, nothing is
    saved (said once). An explicit ``monitor`` keeps Lightning's behaviour, at ``every_n_epochs`` (default:
    the metrics callback's, else 1). Other arguments are ``ModelCheckpoint``'s."""

    def __init__(self, monitor: str | None = None, every_n_epochs: int | None = None, **kwargs):
        super().__init__(monitor=monitor, every_n_epochs=every_n_epochs or 1, **kwargs)
        self.follows_metrics = monitor is None
        self.explicit_every_n_epochs = every_n_epochs

    @property
    def state_key(self) -> str:
        """Once the monitor is known, ``ModelCheckpoint``'s key (class name and settings), so that a checkpoint
        written before this subclass existed restores its best score on resume instead of losing it; before
        (and when off) this class's own, which cannot clash with ``last.ckpt``'s ``ModelCheckpoint``."""
        key = super().state_key
        return key if self.monitor is None else ModelCheckpoint.__qualname__ + key[len(type(self).__qualname__):]

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        metrics = next((cb for cb in trainer.callbacks if isinstance(cb, HasHeadlineMetric)), None)
        if self.explicit_every_n_epochs is None and metrics is not None:
            self._every_n_epochs = metrics.every_n_epochs
        if self.follows_metrics:
            self.monitor = metrics and metrics.headline_metric(trainer.datamodule)
            if self.monitor is None:
                self.save_top_k = 0  # nothing to rank by: best.ckpt would be a copy of last.ckpt
                rank_zero_info("best.ckpt is off: no metrics callback reports a headline metric for this data "
                               "(set callbacks.best_checkpoint.monitor=KEY to track one)")
        super().setup(trainer, pl_module, stage)
