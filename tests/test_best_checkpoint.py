"""best.ckpt (callbacks/best_checkpoint.yaml): the metrics callback's headline metric, at its cadence."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from gan_experiments.callbacks import BestCheckpoint
from gan_experiments.callbacks.capabilities import HasHeadlineMetric

# the score logged after each epoch (lower is better): best at epoch 2, then worse, then 3 is second best
SCORES = [5.0, 4.0, 1.0, 9.0, 2.0, 7.0]


class ScoredMetrics(Callback, HasHeadlineMetric):
    """Logs SCORES[epoch] as val/score every ``every_n_epochs`` epochs, like GANMetrics logs val/fid."""

    def __init__(self, every_n_epochs: int, headline: str | None = "val/score"):
        self.every_n_epochs, self.headline = every_n_epochs, headline

    def headline_metric(self, datamodule) -> str | None:
        return self.headline

    def on_train_epoch_end(self, trainer, pl_module):
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            pl_module.log("val/score", SCORES[trainer.current_epoch])


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(tmp_path, *callbacks, epochs: int = len(SCORES)) -> L.Trainer:
    trainer = L.Trainer(max_epochs=epochs, callbacks=list(callbacks), logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(Tiny(), DataLoader(TensorDataset(torch.ones(2, 1)), batch_size=2))
    return trainer


def best(tmp_path, **kwargs) -> BestCheckpoint:
    settings = {"mode": "min", **kwargs}
    return BestCheckpoint(dirpath=tmp_path / "checkpoints", filename="best", save_top_k=1,
                          save_on_train_epoch_end=True, auto_insert_metric_name=False, **settings)


def saved_epoch(path) -> int:
    return torch.load(path, weights_only=False)["epoch"]


@pytest.mark.parametrize(("every", "best_epoch"), [(1, 2), (2, 1)])
def test_best_is_the_lowest_headline_score_at_the_metrics_cadence(tmp_path, every, best_epoch):
    """every 1: epochs 0..5 scored, the minimum 1.0 at epoch 2; every 2: epochs 1, 3, 5 scored (4, 9, 7):
    epoch 1 is best (a best-checkpoint check on every epoch would pick epoch 2's stale 4.0 or fail)."""
    callback = best(tmp_path)
    fit(tmp_path, ScoredMetrics(every), callback)
    assert callback.monitor == "val/score" and callback._every_n_epochs == every
    assert saved_epoch(tmp_path / "checkpoints/best.ckpt") == best_epoch
    assert callback.best_model_score.item() == SCORES[best_epoch]


def test_no_headline_metric_means_no_best_checkpoint(tmp_path):
    callback = best(tmp_path)
    fit(tmp_path, ScoredMetrics(1, headline=None), callback, epochs=2)
    assert callback.monitor is None and not (tmp_path / "checkpoints/best.ckpt").exists()


def test_without_a_metrics_callback_nothing_is_saved_and_last_ckpt_still_is(tmp_path):
    last = ModelCheckpoint(dirpath=tmp_path / "checkpoints", filename="last", save_top_k=1, every_n_epochs=1)
    fit(tmp_path, best(tmp_path), last, epochs=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]


def test_an_explicit_monitor_wins_over_the_headline(tmp_path):
    callback = best(tmp_path, monitor="val/score", mode="max")
    fit(tmp_path, ScoredMetrics(1, headline="val/other"), callback)
    assert callback.monitor == "val/score" and callback.best_model_score.item() == max(SCORES)


def test_state_key_is_model_checkpoints_so_older_checkpoints_restore_their_best_score(tmp_path):
    """Checkpoints written when best.ckpt was a plain ModelCheckpoint(monitor=val/fid, every_n_epochs=5)
    store its state under ModelCheckpoint's key: the subclass must read it back on resume."""
    callback = best(tmp_path)
    fit(tmp_path, ScoredMetrics(5, headline="val/fid"), callback, epochs=1)
    plain = ModelCheckpoint(dirpath=tmp_path / "checkpoints", filename="best", monitor="val/fid", mode="min",
                            save_top_k=1, every_n_epochs=5, save_on_train_epoch_end=True, auto_insert_metric_name=False)
    assert callback.state_key == plain.state_key
