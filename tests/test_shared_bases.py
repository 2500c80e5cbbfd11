"""The shared bases of issue 18 on tiny subclasses, each against what it promises: ``models.base`` (one
optimizer step on the named total, the others frozen meanwhile; every term logged, the chosen ones on the
progress bar), ``callbacks.image_logging.EpochImages`` (PNG on epoch 0, every n-th and the last epoch, rank
0 only, atomically, logged under its key), ``data.loaders.make_loader`` (shuffle, seed, collate and the
rest passed through), ``training.fit_classifier`` (Adam for exactly ``steps`` batches) and the translation
DataModules' one constructor."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision.io import read_image

from gan_experiments.callbacks.image_logging import EpochImages, Grid
from gan_experiments.data import PairedDataModule, UnpairedDataModule
from gan_experiments.data.loaders import InMemoryDataset, already_batched, make_loader
from gan_experiments.models.base import AdversarialModule, LossLogging
from gan_experiments.training import fit_classifier

# --- models.base ------------------------------------------------------------------------------------------


class TwoPlayers(AdversarialModule):
    """w is player 0's parameter, v player 1's; d_loss = 3w (d_aux = 100w is logged, not optimized), g_loss = 5v."""

    def __init__(self):
        super().__init__()
        self.w, self.v = nn.Parameter(torch.tensor(1.0)), nn.Parameter(torch.tensor(2.0))
        self.frozen_during_steps: list[bool] = []
        self.returned: list[dict] = []

    def configure_optimizers(self):
        return [torch.optim.SGD([self.w], lr=0.1), torch.optim.SGD([self.v], lr=0.1)]

    def training_step(self, batch, batch_idx):
        opt_w, opt_v = self.optimizers()

        def d_losses():
            self.frozen_during_steps.append(not self.v.requires_grad)
            return {"d_loss": 3 * self.w, "d_aux": 100 * self.w}

        def g_losses():
            self.frozen_during_steps.append(not self.w.requires_grad)
            return {"g_loss": 5 * self.v}

        terms = self.optimize(opt_w, d_losses, "d_loss") | self.optimize(opt_v, g_losses, "g_loss")
        self.returned.append(terms)
        return self.log_losses(terms)


class OneLoss(LossLogging):
    """Automatic optimization (as the VAE): training_step's "loss" is stepped by Lightning."""

    progress_bar_losses = ("loss",)

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))

    def configure_optimizers(self):
        return torch.optim.SGD([self.w], lr=0.1)

    def training_step(self, batch, batch_idx):
        return self.log_losses({"loss": 2 * self.w, "kl": (4 * self.w).detach()})


def fit(module: L.LightningModule, batches: int = 2) -> L.Trainer:
    trainer = L.Trainer(max_epochs=1, limit_train_batches=batches, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(module, train_dataloaders=make_loader(InMemoryDataset(torch.zeros(4, 1), torch.zeros(4)), 1))
    return trainer


def test_adversarial_module_steps_each_optimizer_on_its_total_only_and_logs_every_term():
    module = TwoPlayers()
    assert module.automatic_optimization is False
    trainer = fit(module)
    # two SGD steps of lr 0.1 on d(3w)/dw = 3 and d(5v)/dv = 5; d_aux (100w) never steps w
    assert module.w.item() == pytest.approx(1 - 2 * 0.3) and module.v.item() == pytest.approx(2 - 2 * 0.5)
    assert module.frozen_during_steps == [True] * 4  # the other player's parameters, while each loss is built
    assert all(not v.requires_grad for terms in module.returned for v in terms.values())
    assert module.returned[1]["d_loss"].item() == pytest.approx(3 * 0.7)  # the loss before its step
    metrics = trainer.callback_metrics
    assert metrics["train/d_loss_epoch"].item() == pytest.approx((3 * 1.0 + 3 * 0.7) / 2)
    assert metrics["train/d_aux_epoch"].item() == pytest.approx((100 * 1.0 + 100 * 0.7) / 2)
    assert metrics["train/g_loss_step"].item() == pytest.approx(5 * 1.5)
    shown = {key.removesuffix("_step").removesuffix("_epoch") for key in trainer.progress_bar_metrics}
    assert shown == {"train/d_loss", "train/g_loss"}


def test_loss_logging_serves_automatic_optimization_with_its_own_progress_bar_losses():
    module = OneLoss()
    trainer = fit(module)
    assert module.w.item() == pytest.approx(1 - 2 * 0.2)  # Lightning stepped the returned "loss"
    assert trainer.callback_metrics["train/kl_epoch"].item() == pytest.approx((4 + 4 * 0.8) / 2)
    shown = {key.removesuffix("_step").removesuffix("_epoch") for key in trainer.progress_bar_metrics}
    assert shown == {"train/loss"}


# --- callbacks.image_logging.EpochImages ------------------------------------------------------------------


class RecordingTensorBoard(TensorBoardLogger):
    """A TensorBoardLogger whose writer only records add_image calls (key, image shape, step)."""

    def __init__(self, save_dir):
        super().__init__(save_dir)
        self.images: list[tuple[str, tuple[int, ...], int]] = []

    @property
    def experiment(self):
        return SimpleNamespace(add_image=lambda key, image, step: self.images.append((key, tuple(image.shape), step)))


class EpochStamp(EpochImages):
    """Two 4x4 gray images: black (-1) the first time, white (1) after."""

    config_key = "callbacks.epoch_stamp"

    def __init__(self, dirpath, every_n_epochs):
        super().__init__(dirpath, every_n_epochs)
        self.calls = 0

    def grids(self, trainer, pl_module):
        value = 1.0 if self.calls else -1.0
        self.calls += 1
        return [Grid("stamp_", "stamps/x", torch.full((2, 1, 4, 4), value), 2)]


def drive(callback: EpochImages, logger, max_epochs: int, global_step_at_start: int = 0) -> None:
    """The hooks Lightning calls: on_train_start, then on_train_epoch_end after each epoch."""
    trainer = SimpleNamespace(current_epoch=0, max_epochs=max_epochs, global_step=global_step_at_start, loggers=[logger])
    callback.on_train_start(trainer, None)
    for epoch in range(max_epochs):
        trainer.current_epoch, trainer.global_step = epoch, global_step_at_start + 10 * (epoch + 1)
        callback.on_train_epoch_end(trainer, None)


def test_epoch_images_saves_epoch_0_every_nth_and_the_last_epoch_and_logs_each(tmp_path):
    logger = RecordingTensorBoard(tmp_path / "tb")
    drive(EpochStamp(tmp_path / "samples", every_n_epochs=2), logger, max_epochs=5)
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["stamp_epoch_000.png", "stamp_epoch_002.png", "stamp_epoch_004.png", "stamp_epoch_005.png"]
    # one row of 2 images of 4 px with 2 px padding: 14 x 8 RGB, logged under the grid's key at the step
    assert logger.images == [("stamps/x", (3, 8, 14), step) for step in (0, 20, 40, 50)]
    first, later = (read_image(str(tmp_path / "samples" / n)) for n in ("stamp_epoch_000.png", "stamp_epoch_002.png"))
    assert first[:, 2:6, 2:6].max() == 0 and later[:, 2:6, 2:6].min() == 255  # [-1, 1] mapped to [0, 255]


def test_epoch_images_only_on_rank_zero_and_a_resumed_run_keeps_its_first_image(tmp_path, monkeypatch):
    logger = RecordingTensorBoard(tmp_path / "tb")
    drive(EpochStamp(tmp_path / "resumed", every_n_epochs=1), logger, max_epochs=2, global_step_at_start=100)
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == ["stamp_epoch_001.png", "stamp_epoch_002.png"]
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    drive(EpochStamp(tmp_path / "rank1", every_n_epochs=1), logger, max_epochs=2)
    assert not (tmp_path / "rank1").exists() and len(logger.images) == 2


def test_epoch_images_refuse_every_n_epochs_below_one(tmp_path):
    with pytest.raises(ValueError, match="callbacks.epoch_stamp.every_n_epochs must be >= 1"):
        EpochStamp(tmp_path, every_n_epochs=0)


# --- data.loaders.make_loader ------------------------------------------------------------------------------


def numbered(n: int = 10) -> InMemoryDataset:
    return InMemoryDataset(torch.arange(n).float()[:, None], torch.arange(n))


def order(loader) -> list[int]:
    return [int(y) for _, labels in loader for y in labels]


def test_make_loader_shuffles_by_seed_and_keeps_order_without_shuffle():
    data = numbered()
    assert order(make_loader(data, 3)) == list(range(10))
    seeded = order(make_loader(data, 3, shuffle=True, seed=5))
    plain = DataLoader(data, 3, shuffle=True, generator=torch.Generator().manual_seed(5), collate_fn=already_batched)
    assert seeded == order(plain) != list(range(10)) and sorted(seeded) == list(range(10))
    assert seeded == order(make_loader(data, 4, shuffle=True, seed=5)) != order(make_loader(data, 3, shuffle=True, seed=6))
    torch.manual_seed(1)
    global_draw = order(make_loader(data, 3, shuffle=True))  # seed None: torch's global generator
    torch.manual_seed(1)
    assert order(make_loader(data, 3, shuffle=True)) == global_draw


def test_make_loader_collates_in_memory_data_by_its_batches_and_passes_the_rest_through():
    data = numbered()
    loader = make_loader(data, 4, drop_last=True)
    assert loader.collate_fn is already_batched and loader.drop_last and len(loader) == 2
    x, y = next(iter(make_loader(Subset(data, [7, 2, 5]), 3)))  # a Subset defers to the batched __getitems__
    assert x.shape == (3, 1) and y.tolist() == [7, 2, 5]
    pairs = [(torch.full((2,), float(i)), i) for i in range(4)]  # plain items: torch's default collate
    x, y = next(iter(make_loader(pairs, 4)))
    assert x.shape == (4, 2) and y.tolist() == [0, 1, 2, 3]

    def first_only(batch):
        return batch[0]

    assert make_loader(pairs, 2, collate_fn=first_only).collate_fn is first_only
    assert next(iter(make_loader(pairs, 2, collate_fn=first_only)))[1] == 0


# --- training.fit_classifier -------------------------------------------------------------------------------


def test_fit_classifier_is_adam_on_the_loss_for_exactly_steps_batches():
    torch.manual_seed(0)
    x, y = torch.randn(24, 3), torch.arange(24) % 2
    pulled = []

    def batches():
        for index in itertools.chain.from_iterable(torch.arange(24).split(8) for _ in itertools.count()):
            pulled.append(len(pulled))
            yield x[index], y[index]

    torch.manual_seed(1)
    fitted = fit_classifier(nn.Linear(3, 2), batches(), steps=5, lr=0.05)
    assert len(pulled) == 5 and not fitted.training
    torch.manual_seed(1)
    expected = nn.Linear(3, 2)
    adam = torch.optim.Adam(expected.parameters(), lr=0.05)
    for index in itertools.islice(itertools.cycle(torch.arange(24).split(8)), 5):
        adam.zero_grad()
        F.cross_entropy(expected(x[index]), y[index]).backward()
        adam.step()
    assert all(torch.equal(a, b) for a, b in zip(fitted.state_dict().values(), expected.state_dict().values(), strict=True))
    seen = []
    fit_classifier(nn.Linear(3, 2), batches(), steps=2, loss_fn=lambda logits, labels: seen.append(labels) or logits.sum())
    assert [s.tolist() for s in seen] == [y[8:16].tolist(), y[16:24].tolist()]  # the iterable goes on where it was


# --- the translation DataModules' one constructor ----------------------------------------------------------


def test_paired_and_unpaired_data_share_one_constructor_and_its_defaults(tmp_path):
    unpaired, paired = UnpairedDataModule(path=str(tmp_path)), PairedDataModule(path=str(tmp_path))
    for dm in (unpaired, paired):
        assert (dm.image_size, dm.load_size, dm.batch_size, dm.num_workers) == (256, 286, 1, 2)
        assert dm.sample_shape == (3, 256, 256) and dm.folder == tmp_path and dm.check_images
    assert (paired.direction, paired.eval_split) == ("AtoB", "test")
    custom = PairedDataModule(str(tmp_path), image_size=8, batch_size=3, direction="BtoA", eval_split="val")
    assert (custom.image_size, custom.load_size, custom.batch_size, custom.direction, custom.eval_split) == (8, 9, 3, "BtoA", "val")
    with pytest.raises(ValueError, match="give exactly one of data.path"):
        PairedDataModule(direction="BtoA")
    with pytest.raises(TypeError, match="image_sise"):
        UnpairedDataModule(path=str(tmp_path), image_sise=8)
