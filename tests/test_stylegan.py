"""StyleGAN parts on known inputs (equalized lr, AdaIN, noise, truncation, style mixing, progressive
growing) and the GAN improvement options (spectral norm, minibatch stddev, EMA of G) on DCGAN and StyleGAN."""

import math

import pytest
import torch
from torch import nn

from gan_experiments.models import StyleGANModule
from gan_experiments.networks import DCGANDiscriminator
from gan_experiments.networks.equalized import EqualizedConv2d, EqualizedLinear
from gan_experiments.networks.layers import MinibatchStdDev
from gan_experiments.networks.stylegan import AdaIN, NoiseInjection, StyleGANDiscriminator, StyleGANGenerator
from gan_experiments.pipeline import build_module, train
from gan_experiments.training import ProgressiveSchedule
from tests.helpers import FAST, compose_train

TINY = ["model=stylegan", "model.generator.latent_dim=32", "model.generator.w_dim=32", "model.generator.base_channels=8",
        "model.generator.max_channels=32", "model.generator.mapping_layers=2", "data.batch_size=16", "metrics=none"]


def tiny_generator(**kwargs):
    return StyleGANGenerator(16, 16, image_size=16, channels=3, mapping_layers=2, base_channels=8, max_channels=16,
                             **kwargs)


def test_equalized_lr_scales_weights_at_run_time():
    layer = EqualizedLinear(256, 64, lr_mul=0.01)
    assert layer.weight.std().item() == pytest.approx(100, rel=0.05)  # stored ~ N(0, 1 / lr_mul^2)
    effective = layer.weight * layer.scale
    assert effective.std().item() == pytest.approx(math.sqrt(2) / 16, rel=0.05)  # He std, gain sqrt(2)
    x = torch.randn(8, 256)
    assert torch.allclose(layer(x), x @ effective.T + layer.bias * 0.01, atol=1e-5)
    before = effective.detach().clone()
    layer(x).pow(2).sum().backward()
    torch.optim.Adam(layer.parameters(), lr=1e-3).step()  # Adam moves stored weights by ~lr ...
    change = (layer.weight * layer.scale - before).abs().max().item()
    assert change == pytest.approx(1e-3 * layer.scale, rel=0.05)  # (float32 rounding of weights ~100)  # ... effective ones by lr * c (c includes lr_mul)


def test_adain_output_has_the_styles_scale_and_bias():
    adain = AdaIN(4, 8)
    x, w = torch.randn(2, 4, 16, 16) * 3 + 5, torch.randn(2, 8)
    scale, bias = adain.style(w).chunk(2, dim=1)
    out = adain(x, w)
    assert torch.allclose(out.mean(dim=(2, 3)), bias, atol=1e-4)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-3)


def test_noise_changes_outputs_only_through_its_learned_scales():
    layer, x = NoiseInjection(3), torch.randn(2, 3, 8, 8)
    n1, n2 = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    assert torch.equal(layer(x, n1), layer(x, n2))  # scales start at 0
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.0, 1.0, 2.0]))
    diff = layer(x, n1) - layer(x, n2)
    assert torch.allclose(diff, layer.weight.view(1, 3, 1, 1) * (n1 - n2), atol=1e-5) and diff[:, 0].abs().max() == 0


def fixed_noise(g, n):
    sizes = [4] + [4 * 2 ** ((i + 1) // 2) for i in range(g.num_ws - 1)]
    return [torch.randn(n, 1, s, s, generator=torch.Generator().manual_seed(i)) for i, s in enumerate(sizes)]


def test_truncation_psi_zero_gives_one_image_and_psi_one_changes_nothing():
    g = tiny_generator().eval()
    with torch.no_grad():
        g.w_avg.normal_()
        z, noise = torch.randn(5, 16), fixed_noise(g, 5)
        same = g(z, psi=0.0, noise=noise)
        assert torch.allclose(same, same[:1].expand_as(same), atol=1e-5)
        assert torch.equal(g(z, psi=1.0, noise=noise), g(z, noise=noise))
        coarse = g.truncate(g.styles(z), 0.0, layers=2)
        assert torch.equal(coarse[:, 0], g.w_avg.expand(5, -1)) and torch.equal(coarse[:, 2:], g.styles(z)[:, 2:])


def test_style_mixing_at_either_end_equals_a_single_latent():
    g = tiny_generator().eval()
    z1, z2 = torch.randn(3, 16), torch.randn(3, 16)
    with torch.no_grad():
        noise = fixed_noise(g, 3)
        single1, single2 = g.synthesize(g.styles(z1), noise), g.synthesize(g.styles(z2), noise)
        assert torch.equal(g.synthesize(g.styles(z1, z2, crossover=g.num_ws), noise), single1)
        assert torch.equal(g.synthesize(g.styles(z1, z2, crossover=0), noise), single2)
        mixed = g.synthesize(g.styles(z1, z2, crossover=2), noise)
        assert not torch.equal(mixed, single1) and not torch.equal(mixed, single2)


def test_mixing_regularization_happens_with_its_probability():
    g = tiny_generator(style_mixing_prob=1.0).train()
    calls = []
    g.styles = lambda z, z_mix=None, crossover=None: calls.append(crossover) or StyleGANGenerator.styles(g, z, z_mix, crossover)
    for _ in range(20):
        g(torch.randn(2, 16))
    mixed = [c for c in calls if c is not None]
    assert len(mixed) == 20 and all(1 <= c < g.active_layers() for c in mixed)


def test_progressive_schedule_alpha_and_resolution_switches():
    s = ProgressiveSchedule(num_levels=4, fade_images=100, stable_images=200)
    assert s.phase(0) == (0, 1.0) and s.phase(199) == (0, 1.0)
    assert s.phase(200) == (1, 0.0) and s.phase(250) == (1, 0.5) and s.phase(300) == (1, 1.0)
    assert s.phase(500) == (2, 0.0) and s.phase(800) == (3, 0.0) and s.phase(10**6) == (3, 1.0)
    assert ProgressiveSchedule(4, enabled=False).phase(0) == (3, 1.0)


def test_networks_grow_and_fade_in():
    g, d = tiny_generator(), StyleGANDiscriminator(16, 3, base_channels=8, max_channels=16)
    for level, size in ((0, 4), (1, 8), (2, 16)):
        g.set_progress(level, 0.5)
        d.set_progress(level, 0.5)
        images = g(torch.randn(4, 16))
        assert images.shape == (4, 3, size, size) and d(images).shape == (4,)
    g.eval().set_progress(1, 0.0)  # alpha 0: the new 8x8 block is invisible: the 4x4 image, upsampled
    with torch.no_grad():
        z, noise = torch.randn(2, 16), fixed_noise(g, 2)
        faded = g(z, noise=noise)
        g.set_progress(0, 1.0)
        low = g(z, noise=noise)
    assert torch.allclose(faded, torch.nn.functional.interpolate(low, scale_factor=2, mode="nearest"), atol=1e-5)
    with pytest.raises(ValueError, match="level 2 must have shape"):
        d.set_progress(2, 1.0) or d(torch.zeros(1, 3, 8, 8))


def test_resume_in_a_fade_in_continues_at_the_same_phase(tmp_path):
    """stable 64 / fade 64 images at batch 16: 6 batches end half-way through fading in 8x8."""
    overrides = [*FAST, *TINY, "trainer.limit_train_batches=6", "model.fade_images=64", "model.stable_images=64"]
    train(compose_train(overrides, tmp_path))
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)
    assert ckpt["images_seen"] == 96
    module = build_module(compose_train(overrides, tmp_path))
    module.on_load_checkpoint(ckpt)
    assert (module.generator.synthesis.level, module.generator.synthesis.alpha) == (1, 0.5)
    assert (module.discriminator.level, module.sampler.synthesis.alpha) == (1, 0.5)
    resumed = tmp_path / "resumed"
    train(compose_train([*overrides, "trainer.max_epochs=2", f"ckpt_path={tmp_path}/checkpoints/last.ckpt"], resumed))
    ckpt = torch.load(resumed / "checkpoints/last.ckpt", weights_only=False)
    assert ckpt["images_seen"] == 192  # 4x4 to 64, 8x8 fading in to 128, stable to 192: 16x16 starts fading in
    resumed_module = build_module(compose_train(overrides, tmp_path))
    resumed_module.on_load_checkpoint(ckpt)
    assert (resumed_module.generator.synthesis.level, resumed_module.generator.synthesis.alpha) == (2, 0.0)
    assert resumed_module.discriminator.level == 2


def test_stylegan_samples_come_from_g_ema_at_data_resolution(tmp_path):
    cfg = compose_train([*FAST, *TINY, "model.fade_images=16", "model.stable_images=16"], tmp_path)
    module = build_module(cfg)
    assert isinstance(module, StyleGANModule) and module.generator_ema is not None
    assert module.sample(torch.randn(3, 32)).shape == (3, 1, 32, 32)  # digits: 32 px, grayscale
    assert module.sampler is module.generator_ema.module


def test_minibatch_stddev_appends_the_group_spread():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], x)
    groups = x.reshape(4, 2, 3, 4, 4)  # sample i in group i mod 2
    expected = (groups.var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    assert torch.allclose(out[:, 3, 0, 0], expected.repeat(4))
    assert MinibatchStdDev(4)(torch.randn(6, 2, 1, 1)).shape == (6, 3, 1, 1)  # group shrinks to divide 6


def test_spectral_norm_bounds_every_discriminator_layer():
    d = DCGANDiscriminator(32, 1, base_channels=8, spectral_norm=True, minibatch_std=True, norm="none")
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    for _ in range(30):  # power iterations converge in training mode
        d(torch.randn(4, 1, 32, 32))
    for m in convs:
        sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_on_the_stylegan_discriminator_drops_the_equalized_scale():
    d = StyleGANDiscriminator(8, 3, base_channels=4, max_channels=8, spectral_norm=True)
    layers = [m for m in d.modules() if isinstance(m, (EqualizedConv2d, EqualizedLinear))]
    assert layers and all(m.scale == 1.0 and nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    for _ in range(30):
        d(torch.randn(4, 3, 8, 8))
    for m in layers:
        assert torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("model", ["dcgan", "stylegan"])
def test_improvement_options_train_on_dcgan_and_stylegan(model, tmp_path):
    options = {"dcgan": ["model=dcgan", "model.generator.base_channels=8", "model.discriminator.base_channels=8",
                         "model.discriminator.spectral_norm=true", "model.discriminator.minibatch_std=true",
                         "model.ema_decay=0.9", "loss=hinge", "metrics=none", "data.image_size=16"],
               "stylegan": [*TINY, "model.ema_decay=0.9", "loss=wgan_gp", "model.discriminator.spectral_norm=true"]}[model]
    metrics = train(compose_train([*FAST, *options, "trainer.limit_train_batches=5"], tmp_path))  # 5 critic steps
    assert math.isfinite(metrics["train/g_loss"])
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)
    assert any("parametrizations.weight.original" in k for k in ckpt["state_dict"])  # spectral norm
    ema = {k for k in ckpt["state_dict"] if k.startswith("generator_ema.")}
    assert ema and "generator_ema.n_averaged" in ema


def test_ema_follows_the_exponential_moving_average(tmp_path):
    """G_ema after n updates against the recursion e_n = d_n e_{n-1} + (1 - d_n) g_n, d_n = min(decay,
    (1 + n) / (10 + n)) (TF's num_updates warm-up), computed here in float64 for a G that changes every
    step; batch norm's integer counters are copied, not averaged."""
    module = build_module(compose_train(["model.ema_decay=0.5", "model.generator.base_channels=8"], tmp_path))
    g, ema = module.generator, module.generator_ema
    expected = None
    for n in range(30):
        with torch.no_grad():
            for i, p in enumerate(g.parameters()):
                p.add_(0.1 * (i + 1) * (-1) ** n)
            for b in g.buffers():
                if not b.is_floating_point():
                    b.fill_(7 * n)
        current = [p.detach().double().clone() for p in g.parameters()]
        if expected is None:
            expected = current  # the first update copies G
        else:
            d = min(0.5, (1 + n) / (10 + n))
            expected = [d * e + (1 - d) * c for e, c in zip(expected, current, strict=True)]
        ema.update_parameters(g)
    for p_ema, e in zip(ema.module.parameters(), expected, strict=True):
        assert torch.allclose(p_ema.double(), e, atol=1e-6)
    counters = [b for b in ema.module.buffers() if not b.is_floating_point()]
    assert counters and all(int(b) == 7 * 29 for b in counters)
