"""StyleGAN's training protocol as NVlabs' code runs it (issue 15), on known inputs:

- reals cross-fade between levels of detail like the fakes (training_loop.py ``process_reals``, FadeLOD);
- D low-passes with [1, 2, 1] before each downscaling conv (networks_stylegan.py ``D_basic``, ``blur2d``);
- Adam's state restarts whenever lod's floor or ceil changes (``reset_opt_for_new_lod``), resumes exactly;
- the paper's widths nf(stage) = min(int(fmap_base / 2^(stage * fmap_decay)), fmap_max).
Expected values come from those formulas, written out here, never from the code under test."""

import torch
import torch.nn.functional as F

from gan_experiments.models import StyleGANModule
from gan_experiments.models.gan import GANModule
from gan_experiments.models.stylegan import fade_reals
from gan_experiments.networks.equalized import EqualizedConv2d
from gan_experiments.networks.layers import Blur2d
from gan_experiments.networks.stylegan import StyleGANDiscriminator, StyleGANGenerator, channel_widths
from gan_experiments.pipeline import build_module, train
from tests.helpers import FAST, compose_train

TINY = ["model=stylegan", "model.generator.latent_dim=32", "model.generator.w_dim=32", "model.generator.base_channels=8",
        "model.generator.max_channels=32", "model.generator.mapping_layers=2", "data.batch_size=16", "metrics=none"]


def box_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """NVlabs' 2x2 reshape-and-mean (and dataset_tool's halving), k x k: [N, C, H, W] -> [N, C, H/k, W/k]."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // k, k, w // k, k).mean(dim=(3, 5))


def tile(x: torch.Tensor, k: int) -> torch.Tensor:
    """NVlabs' tf.tile upscale: every pixel repeated k x k."""
    return x.repeat_interleave(k, dim=2).repeat_interleave(k, dim=3)


# ---- 1. reals fade like the fakes -------------------------------------------------------------------------

def test_reals_cross_fade_between_levels_of_detail_by_hand():
    x = torch.arange(64.0).reshape(1, 1, 8, 8)  # at r = 8: x_8 = x; its 2x2 block (0, 0) is 0, 1, 8, 9
    assert torch.equal(fade_reals(x, 8, 1.0), x)
    at0, half = fade_reals(x, 8, 0.0), fade_reals(x, 8, 0.5)
    assert at0[0, 0, :2, :2].eq(4.5).all()  # alpha 0: the 4x4 image (block means), nearest-upsampled
    assert half[0, 0, 0, 0].item() == 2.25 and half[0, 0, 0, 1].item() == 2.75  # 0.5 x + 0.5 * 4.5
    big = torch.arange(256.0).reshape(1, 1, 16, 16)  # x_8[i, j] = 32 i + 2 j + 8.5 (2x2 box of the 16 px image)
    assert fade_reals(big, 8, 1.0)[0, 0, 0, :2].tolist() == [8.5, 10.5]
    assert fade_reals(big, 8, 0.5)[0, 0, 0, 0].item() == 17.0  # 0.5 * 8.5 + 0.5 * mean(8.5, 10.5, 40.5, 42.5)


def test_reals_follow_process_reals_on_a_random_batch():
    x = torch.randn(3, 2, 32, 32, generator=torch.Generator().manual_seed(0))
    for resolution, alpha in ((8, 0.0), (8, 0.5), (16, 0.25), (32, 1.0), (4, 1.0)):
        x_r = box_mean(x, 32 // resolution)
        expected = alpha * x_r + (1 - alpha) * tile(box_mean(x_r, 2), 2)
        assert fade_reals(x, resolution, alpha).shape == (3, 2, resolution, resolution)
        assert torch.allclose(fade_reals(x, resolution, alpha), expected, atol=1e-6), (resolution, alpha)


def test_the_discriminator_is_given_faded_reals(tmp_path, monkeypatch):
    """stable 64 / fade 64: at 96 images the module trains at 8 px, alpha 0.5; D's reals are the blend."""
    module = build_module(compose_train([*TINY, "model.fade_images=64", "model.stable_images=64"], tmp_path))
    module.on_load_checkpoint({"images_seen": 96})
    seen = []
    monkeypatch.setattr(GANModule, "training_step", lambda self, batch, batch_idx: seen.append(batch[0]) or {})
    monkeypatch.setattr(module, "log", lambda *args, **kwargs: None)
    module._trainer = type("Trainer", (), {"world_size": 1})()
    real = torch.randn(4, 1, 32, 32)
    module.training_step((real, torch.zeros(4, dtype=torch.long)), 0)
    x_8 = box_mean(real, 4)
    assert torch.allclose(seen[0], 0.5 * x_8 + 0.5 * tile(box_mean(x_8, 2), 2), atol=1e-6)


# ---- 2. D's [1, 2, 1] low-pass ----------------------------------------------------------------------------

def test_blur_responds_with_the_normalized_121_outer_product():
    impulse = torch.zeros(1, 2, 5, 5)
    impulse[0, 0, 2, 2] = 1.0
    out = Blur2d()(impulse)
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    assert torch.allclose(out[0, 0, 1:4, 1:4], kernel) and out[0, 0].sum().item() == 1.0
    assert out[0, 1].abs().max() == 0  # depthwise: channels do not mix
    ones = Blur2d()(torch.ones(2, 3, 6, 6))
    assert torch.equal(ones[:, :, 1:-1, 1:-1], torch.ones(2, 3, 4, 4))  # a constant passes unchanged ...
    # ... except at the border: tf.nn.depthwise_conv2d(padding='SAME') pads with zeros
    assert ones[0, 0, 0, 2].item() == 12 / 16 and ones[0, 0, 0, 0].item() == 9 / 16


def test_discriminator_blocks_blur_before_the_downscaling_conv_as_nvlabs_d_basic():
    """D_basic, res >= 3: x = act(conv0(x)); x = act(downscale2d(conv1(blur(x))) + b)."""
    d = StyleGANDiscriminator(16, 3, base_channels=4, max_channels=8, blur=True)
    plain = StyleGANDiscriminator(16, 3, base_channels=4, max_channels=8, blur=False)
    assert set(d.state_dict()) == set(plain.state_dict())  # same parameters: checkpoints load either way
    kernel = (torch.tensor([1.0, 2.0, 1.0])[:, None] * torch.tensor([1.0, 2.0, 1.0])[None] / 16)
    for level in (1, 2):
        block = d.blocks[level]
        conv0, conv1 = [m for m in block.modules() if isinstance(m, EqualizedConv2d)]
        h = torch.randn(2, conv0.weight.shape[1], 4 * 2**level, 4 * 2**level)
        a = F.leaky_relu(conv0(h), 0.2)
        blurred = F.conv2d(a, kernel.expand(a.shape[1], 1, 3, 3), padding=1, groups=a.shape[1])
        expected = F.leaky_relu(F.avg_pool2d(conv1(blurred), 2), 0.2)
        assert torch.allclose(block(h), expected, atol=1e-5)
        plain.blocks[level].load_state_dict(block.state_dict())  # blur=false: today's block, unfiltered
        assert torch.allclose(plain.blocks[level](h), F.avg_pool2d(F.leaky_relu(conv1(a), 0.2), 2), atol=1e-5)
    assert sum(isinstance(m, Blur2d) for m in d.modules()) == 2 and not any(isinstance(m, Blur2d) for m in plain.modules())


def test_blur_is_on_by_default_in_the_config(tmp_path):
    module = build_module(compose_train([*TINY], tmp_path))
    assert sum(isinstance(m, Blur2d) for m in module.discriminator.modules()) == 3  # 32 px: 3 downscaling blocks
    module = build_module(compose_train([*TINY, "model.discriminator.blur=false"], tmp_path))
    assert not any(isinstance(m, Blur2d) for m in module.discriminator.modules())


# ---- 3. Adam's state restarts with each new level of detail ------------------------------------------------

def record_optimizer_states(monkeypatch) -> list[tuple[int, int, int]]:
    """Per batch: (parameters with state when GANModule's step starts, G's and D's Adam step after the batch)."""
    rows: list[list[int]] = []
    original = GANModule.training_step

    def steps(opt) -> int:
        return max((int(s["step"]) for s in opt.optimizer.state.values()), default=0)

    def training_step(self, batch, batch_idx):
        rows.append([sum(len(opt.optimizer.state) for opt in self.optimizers())])
        return original(self, batch, batch_idx)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        rows[-1] += [steps(opt) for opt in self.optimizers()]

    monkeypatch.setattr(GANModule, "training_step", training_step)
    monkeypatch.setattr(StyleGANModule, "on_train_batch_end", on_train_batch_end)
    return rows


# batch 16, stable 32 / fade 32 at 32 px: images before batch b = 16 b; lod's (floor, ceil) changes at batch 2
# (8 px starts fading in), 4 (8 px fully in: ceil drops) and 6 (16 px starts fading in)
SCHEDULE = [*FAST, *TINY, "model.fade_images=32", "model.stable_images=32"]
STEPS_WITH_RESET = [1, 2, 1, 2, 1, 2, 1, 2]


def test_adam_state_is_reset_when_a_level_starts_and_ends_fading_in(tmp_path, monkeypatch):
    rows = record_optimizer_states(monkeypatch)
    train(compose_train([*SCHEDULE, "trainer.limit_train_batches=8"], tmp_path))
    empty = [state == 0 for state, _, _ in rows]
    assert empty == [True, False, True, False, True, False, True, False]  # empty right after a change, not before
    assert [g for _, g, _ in rows] == STEPS_WITH_RESET and [d for _, _, d in rows] == STEPS_WITH_RESET
    rows.clear()
    train(compose_train([*SCHEDULE, "trainer.limit_train_batches=5", "model.reset_optimizers=false"], tmp_path / "off"))
    assert [d for _, _, d in rows] == [1, 2, 3, 4, 5] and [g for _, g, _ in rows] == [1, 2, 3, 4, 5]


def test_a_resume_resets_exactly_where_the_uninterrupted_run_does(tmp_path, monkeypatch):
    rows = record_optimizer_states(monkeypatch)
    for stop in (3, 2):  # 3: resumed mid-fade (no reset); 2: resumed on the boundary (reset, as uninterrupted)
        run = tmp_path / f"stop{stop}"
        train(compose_train([*SCHEDULE, f"trainer.limit_train_batches={stop}"], run))
        assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["images_seen"] == 16 * stop
        rows.clear()
        train(compose_train([*SCHEDULE, f"trainer.limit_train_batches={stop}", "trainer.max_epochs=2",
                             f"ckpt_path={run}/checkpoints/last.ckpt"], run / "resumed"))
        assert [d for _, _, d in rows] == STEPS_WITH_RESET[stop:2 * stop], stop
        assert [g for _, g, _ in rows] == STEPS_WITH_RESET[stop:2 * stop], stop
        assert (rows[0][0] == 0) == (stop == 2)


# ---- 4. the paper's absolute widths -----------------------------------------------------------------------

def test_paper_widths_equal_nvlabs_nf_table():
    # NVlabs nf(stage) with fmap_base 8192, fmap_decay 1, fmap_max 512; stage = log2(r) - 1, r = 4 ... 1024
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    widths = channel_widths(1024, base_channels=64, max_channels=512, fmap_base=8192, fmap_decay=1.0)
    assert widths == list(table.values())
    assert channel_widths(64, 64, 512, fmap_base=8192) == [512, 512, 512, 512, 256]  # absolute: any data size
    assert channel_widths(64, 64, 512) == [512, 512, 256, 128, 64]  # fmap_base null: CPU-sized, relative


def test_generator_and_discriminator_are_built_with_the_fmap_widths(tmp_path):
    # fmap_base 256, fmap_max 64: nf = min(256 / 2^stage, 64) = 64, 64, 32, 16 at 4, 8, 16, 32 px
    g = StyleGANGenerator(16, 16, image_size=32, channels=1, mapping_layers=1, max_channels=64, fmap_base=256)
    d = StyleGANDiscriminator(32, 1, max_channels=64, fmap_base=256)
    assert [m.weight.shape[1] for m in g.synthesis.to_rgb] == [64, 64, 32, 16]
    assert [m[0].weight.shape[0] for m in d.from_rgb] == [64, 64, 32, 16]
    assert g.synthesis.input.const.shape == (1, 64, 4, 4)
    cfg = compose_train(["model=stylegan", "model.generator.fmap_base=8192"], tmp_path)
    assert cfg.model.discriminator.fmap_base == 8192 and cfg.model.discriminator.fmap_decay == 1.0
    assert compose_train(["model=stylegan"], tmp_path).model.generator.fmap_base is None
