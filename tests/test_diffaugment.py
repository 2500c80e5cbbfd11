"""DiffAugment: each transform does what the paper says, D sees augmented reals and fakes in both losses,
and the generator's gradients flow through the augmentation."""

import json
from pathlib import Path

import pytest
import torch
from lightning import Callback
from torch import nn

from gan_experiments.pipeline import build_module, train
from gan_experiments.training import DiffAugment
from gan_experiments.training.diffaugment import color, cutout, translation
from tests.helpers import FAST, SMALL_IMAGES, compose_train, small_networks


def test_translation_moves_whole_pixels_by_at_most_an_eighth():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    moved = translation(x)
    rows, cols = moved[:, 0].nonzero(as_tuple=True)[1:]
    assert set(moved.unique().tolist()) <= {0.0, 1.0} and len(rows) == 64  # no blur, nothing lost at +-2
    assert (rows - 8).abs().max() <= 2 and (cols - 8).abs().max() <= 2 and len({(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)}) > 5


def test_cutout_zeroes_one_square_of_half_the_side():
    torch.manual_seed(0)
    out = cutout(torch.ones(200, 3, 16, 16))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert zeros.max() == 64 and zeros.min() > 0  # 8x8 when fully inside, clipped at the border
    assert torch.equal(out[:, 0], out[:, 2])  # the same square on every channel


def test_color_changes_brightness_saturation_and_contrast_per_sample():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 8, 8) * 2 - 1
    out = color(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    shifts = (out - x).mean(dim=(1, 2, 3))
    assert shifts.std() > 0.05  # each sample draws its own parameters
    gray = torch.rand(4, 1, 8, 8)
    assert color(gray).shape == gray.shape


def test_gradients_flow_through_every_policy():
    generator = nn.Sequential(nn.Linear(4, 3 * 8 * 8), nn.Tanh(), nn.Unflatten(1, (3, 8, 8)))
    augment = DiffAugment(["color", "translation", "cutout"])
    augment(generator(torch.randn(16, 4))).sum().backward()
    grad = generator[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_bad_policy_and_non_image_batches_are_refused():
    with pytest.raises(ValueError, match="must list some of color, translation, cutout"):
        DiffAugment(["rotate"])
    with pytest.raises(ValueError, match=r"augments images \[N, C, H, W\]"):
        DiffAugment(["color"])(torch.zeros(4, 2))


class Recorder(nn.Module):
    def __init__(self, inner: nn.Module, calls: list):
        super().__init__()
        self.inner, self.calls = inner, calls

    def forward(self, x):
        self.calls.append((tuple(x.shape), x.requires_grad))
        return self.inner(x)


class RecordAugmentations(Callback):
    """Wraps the module's augmentation to record what passes through it; writes the calls (shape,
    requires_grad) to ``path`` (JSON) when training ends."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.calls: list = []

    def on_fit_start(self, trainer, pl_module):
        pl_module.augment = Recorder(pl_module.augment, self.calls)

    def on_train_end(self, trainer, pl_module):
        self.path.write_text(json.dumps([[list(shape), grad] for shape, grad in self.calls]))


def test_discriminator_sees_augmented_reals_and_fakes_in_both_steps(tmp_path):
    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.limit_train_batches=1",
                 "model.diffaugment=[color,translation,cutout]",
                 "+callbacks.record._target_=tests.test_diffaugment.RecordAugmentations",
                 f"+callbacks.record.path={tmp_path / 'augment_calls.json'}"]
    module = build_module(compose_train(overrides, tmp_path))
    assert isinstance(module.augment, DiffAugment)
    train(compose_train(overrides, tmp_path))
    shape = [16, 1, 16, 16]
    # D step: T(real), T(fake) without gradients to G; G step: T(G(z)) with gradients
    calls = json.loads((tmp_path / "augment_calls.json").read_text())
    assert calls == [[shape, False], [shape, False], [shape, True]]
