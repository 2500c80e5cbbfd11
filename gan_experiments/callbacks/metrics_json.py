"""``metrics.json``: the final value of every logged metric under its logged key, plus ``best/<key>``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from gan_experiments.callbacks.capabilities import ReportsMetricsInfo
from gan_experiments.io import write_json_atomic


def collect_metrics(trainer: Trainer) -> dict[str, float]:
    """Logged metrics as floats under the key they were logged with, the best score of every
    ModelCheckpoint that monitors one, and what callbacks say produced their numbers (the ``metrics_info``
    of every callback that declares ``ReportsMetricsInfo``, e.g. the feature extractor and sample counts).
    A metric logged per step and per epoch appears once, as its epoch value (Lightning's ``_step``/``_epoch``
    copies are dropped)."""
    logged = trainer.callback_metrics
    metrics = {
        name: float(value)
        for name, value in logged.items()
        if not (name.endswith(("_step", "_epoch")) and name.rsplit("_", 1)[0] in logged)
    }
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.monitor and callback.best_model_score is not None:
            metrics[f"best/{callback.monitor}"] = float(callback.best_model_score)
    info = {k: v for cb in trainer.callbacks if isinstance(cb, ReportsMetricsInfo) for k, v in cb.metrics_info.items()}
    metrics = {k: (v if math.isfinite(v) else str(v)) for k, v in metrics.items()}
    return dict(sorted((metrics | info).items()))


class MetricsJSON(Callback):
    """Rewrites ``path`` after every epoch, at the end of training, and after a crash. A resumed run starts
    from the file its earlier part wrote (a metric evaluated every few epochs keeps its last value until it
    is evaluated again); nothing is written while nothing has been logged, so a run that fails before its
    first value leaves no empty file (and a resumed one keeps its old file)."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.previous: dict = {}
        self.ran_here = False

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.ran_here = True
        resumed = trainer.global_step > 0
        self.previous = json.loads(self.path.read_text()) if resumed and self.path.is_file() else {}

    def metrics(self, trainer: Trainer) -> dict:
        """What the file holds: the earlier part's metrics (on a resume) updated with this part's. Where the
        loop ran in other processes (``ddp_spawn``: this object is the launcher's copy, whose callbacks never
        ran, so their ``metrics_info`` is empty) it is the file rank 0 wrote."""
        if not self.ran_here and self.path.is_file():
            return json.loads(self.path.read_text())
        return dict(sorted((self.previous | collect_metrics(trainer)).items()))

    @rank_zero_only
    def write(self, trainer: Trainer) -> None:
        if trainer.callback_metrics:
            write_json_atomic(self.path, self.metrics(trainer))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.write(trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.write(trainer)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self.write(trainer)
