"""Perceptual path length (metrics.ppl, metrics.lpips, task=ppl): the formula on generators whose path
lengths are known in closed form (a distance swapped for squared L2 on pixels), the percentile filter, the
shared noise of a pair, the LPIPS VGG-16 network on random weights of torchvision's architecture, and the
task end to end on a StyleGAN checkpoint from a tiny training run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gan_experiments.config import ConfigError
from gan_experiments.metrics.lpips import LPIPSDistance, lpips_distance
from gan_experiments.metrics.ppl import keep_inliers, metric_name, pair_latents, perceptual_path_length, slerp
from gan_experiments.models.capabilities import LatentGenerator, StyleSpaceGenerator
from gan_experiments.pipeline import evaluate, train
from tests.helpers import FAST, compose_evaluate, compose_train

D = 6  # latent size of the toy generators
A = torch.randn(16, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)  # pixels = A w, 4x4
B = torch.randn(D, D, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def mapping(z: torch.Tensor) -> torch.Tensor:
    """The toy f: z -> w, nonlinear, so that lerp in W and slerp in Z give different path lengths."""
    return torch.tanh(z.double() @ B.T)


class ToyStyleGAN(StyleSpaceGenerator):
    """styles(z) = f(z) on each of 3 layers; synthesize(ws) = A w [N, 1, 4, 4] (``sin``: A sin(3 w)), plus
    ``noise_scale`` times a noise map drawn, like StyleGAN's, from the global generator when none is given."""

    latent_dim, num_classes = D, 0

    def __init__(self, noise_scale: float = 0.0, sin: bool = False):
        self.noise_scale, self.sin = noise_scale, sin
        self.noise_drawn: list[torch.Tensor] = []

    def styles(self, z, z_mix=None, crossover=None):
        return mapping(z)[:, None].repeat(1, 3, 1)

    def synthesize(self, ws, noise=None):
        w = ws[:, 0].double()
        x = (torch.sin(3 * w) if self.sin else w) @ A.T
        self.noise_drawn.append(torch.randn(x.shape, dtype=x.dtype))
        return (x + self.noise_scale * self.noise_drawn[-1]).view(-1, 1, 4, 4)

    def sample(self, z, labels=None, psi=None, truncation_layers=None):
        return self.synthesize(self.styles(z))


class LinearGAN(LatentGenerator):
    """A plain generator G(z) = A z [N, 1, 4, 4] (no W)."""

    latent_dim, num_classes = D, 0

    def sample(self, z, labels=None):
        return (z.double() @ A.T).view(-1, 1, 4, 4)


def squared_l2(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    return (x0.double() - x1.double()).square().flatten(1).sum(1)


def ppl(generator, **kwargs):
    options = {"num_samples": 101, "space": "w", "sampling": "full", "batch_size": 7, "seed": 3} | kwargs
    return perceptual_path_length(generator, squared_l2, **options)


def kept_mean(values: torch.Tensor) -> float:
    """The mean without the single smallest and largest of 101 values (1st 'lower', 99th 'higher' percentile)."""
    ordered = values.sort().values
    return float(ordered[1:-1].mean())


# --- the formula ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("epsilon", [1e-4, 0.5])
def test_in_w_a_linear_generator_has_path_length_a_times_w1_minus_w0_squared_at_every_t(epsilon):
    """G(w) = A w, lerp: G(w(t + eps)) - G(w(t)) = eps A (w1 - w0), so every pair, whatever its t, measures
    ||A (w1 - w0)||² (exact for any eps; eps = 1e-4 in float32 images costs ~1e-3 relative)."""
    z0, z1, t = pair_latents(101, D, "full", seed=3)
    expected = ((mapping(z1) - mapping(z0)) @ A.T).square().sum(1)
    result = ppl(ToyStyleGAN(), epsilon=epsilon)
    assert t.min() < 0.1 and t.max() > 0.9  # the t's span the path
    assert torch.allclose(result.distances, expected, rtol=1e-2 if epsilon < 1e-3 else 1e-5)
    assert result.ppl == pytest.approx(kept_mean(expected), rel=1e-2)


def test_slerp_is_the_great_circle_on_unit_vectors():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 8, generator=gen, dtype=torch.float64), torch.randn(50, 8, generator=gen, dtype=torch.float64)
    t = torch.rand(50, 1, generator=gen, dtype=torch.float64)
    ua, ub = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((ua * ub).sum(1, keepdim=True))
    closed = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    assert torch.allclose(slerp(a, b, t), closed, atol=1e-12)
    assert torch.allclose(slerp(a, b, torch.zeros(50, 1, dtype=torch.float64)), ua, atol=1e-12)
    assert torch.allclose(slerp(a, b, torch.ones(50, 1, dtype=torch.float64)), ub, atol=1e-12)


def test_in_z_a_plain_generator_walks_the_great_circle_of_radius_sqrt_d():
    """End points in Z: the path sqrt(D) slerp(â, b̂; t) leaves â along the unit tangent c at speed sqrt(D) ω,
    so G = A z measures D ω² ||A c||² (to O(eps))."""
    z0, z1, _ = pair_latents(101, D, "end", seed=3)
    ua, ub = z0.double() / z0.double().norm(dim=1, keepdim=True), z1.double() / z1.double().norm(dim=1, keepdim=True)
    cos = (ua * ub).sum(1, keepdim=True)
    c = ub - cos * ua
    c = c / c.norm(dim=1, keepdim=True)
    expected = D * torch.acos(cos).squeeze(1) ** 2 * (c @ A.T).square().sum(1)
    result = ppl(LinearGAN(), space="z", sampling="end")
    assert torch.allclose(result.distances, expected, rtol=1e-2)


def test_end_sampling_measures_at_t_zero():
    """A nonlinear G (A sin(3 w)): the end-point distance is the finite difference at w0, computed here in
    float64; 'full' at random t gives other values."""
    z0, z1, t = pair_latents(101, D, "end", seed=3)
    assert torch.equal(t, torch.zeros(101))
    _, _, t_full = pair_latents(101, D, "full", seed=3)
    assert 0 <= t_full.min() and t_full.max() < 1 and t_full.std() > 0.2

    def g(w):
        return torch.sin(3 * w) @ A.T
    w0, w1 = mapping(z0), mapping(z1)
    expected = (g(w0 + 1e-4 * (w1 - w0)) - g(w0)).square().sum(1) / 1e-8
    end = ppl(ToyStyleGAN(sin=True), sampling="end")
    assert torch.allclose(end.distances, expected, rtol=1e-2)
    full = ppl(ToyStyleGAN(sin=True), sampling="full")
    assert not torch.allclose(full.distances, expected, rtol=0.1)


def test_both_images_of_a_pair_get_the_same_noise_and_the_global_generator_is_left_alone():
    """With a noise map (std 1) added to every image the distances are the noise-free ones: the noise cancels
    within a pair (different noise per image would add ~2 * 16 / eps² to each). Each batch of pairs gets new
    noise, and the global generator's state is what it was."""
    z0, z1, _ = pair_latents(101, D, "full", seed=3)
    expected = ((mapping(z1) - mapping(z0)) @ A.T).square().sum(1)
    state = torch.get_rng_state()
    generator = ToyStyleGAN(noise_scale=1.0)
    result = ppl(generator, epsilon=0.01)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.allclose(result.distances, expected, rtol=1e-3)
    drawn = generator.noise_drawn  # two renders per batch of 7 pairs
    assert len(drawn) == 2 * 15 and all(torch.equal(drawn[i], drawn[i + 1]) for i in range(0, 30, 2))
    assert not torch.equal(drawn[0][:7], drawn[2][:7])  # the next batch: other noise


def test_the_percentile_filter_drops_exactly_the_planted_outliers():
    values = torch.linspace(1.0, 2.0, 101, dtype=torch.float64)
    values[17], values[60] = 1e6, 1e-6
    assert torch.nonzero(~keep_inliers(values)).flatten().tolist() == [17, 60]
    # 1,000 values: P1 'lower' is the 10th smallest (index floor(0.01 * 999) = 9), P99 'higher' the 10th
    # largest (index ceil(0.99 * 999) = 990): 982 kept, 9 dropped at each end
    values = torch.rand(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    order = values.argsort()
    kept = keep_inliers(values)
    assert kept.sum() == 982 and not kept[order[:9]].any() and not kept[order[991:]].any() and kept[order[9:991]].all()


def test_a_path_in_w_needs_a_style_space():
    with pytest.raises(ValueError, match="space='w' needs a StyleGAN"):
        ppl(LinearGAN(), space="w")
    assert (metric_name("w", "end", False), metric_name("z", "full", True)) == ("ppl2_wend", "ppl_zfull")


# --- the LPIPS network --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def random_vgg16_features(tmp_path_factory):
    """torchvision's VGG-16 feature layers (its own ``make_layers(cfgs['D'])``, what ``vgg16().features`` is)
    with random weights, saved under torchvision's keys (``features.{i}.weight``) beside a classifier entry
    that must be ignored."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])
    state = {f"features.{k}": v for k, v in features.state_dict().items()} | {"classifier.0.bias": torch.zeros(3)}
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(state, path)
    return path, features.eval()


@pytest.fixture(scope="module")
def lpips_random(random_vgg16_features):
    return LPIPSDistance(random_vgg16_features[0])


def test_the_lpips_network_has_vgg16s_layers_and_computes_lpips(random_vgg16_features, lpips_random):
    """Layer shapes and weights are torchvision's vgg16().features; the linear layers are torchmetrics'
    LPIPS v0.1 weights; the distance is LPIPS eq. 1, computed here from the torchvision layers."""
    import os

    import torchmetrics

    _, features = random_vgg16_features
    backbone = [p for p in lpips_random.lpips.net.parameters()]
    assert [p.shape for p in backbone] == [p.shape for p in features.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(backbone, features.parameters(), strict=True))
    lins = torch.load(os.path.join(os.path.dirname(torchmetrics.__file__), "functional/image/lpips_models/vgg.pth"),
                      map_location="cpu", weights_only=True)
    assert all(torch.equal(lpips_random.state_dict()[f"lpips.{k}"], v) for k, v in lins.items())

    x0 = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x1 = (x0 + 0.2 * torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(x):  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3: torchvision indices 3, 8, 15, 22, 29
        out, h = [], (x - shift) / scale
        for i, layer in enumerate(features):
            h = layer(h)
            if i in (3, 8, 15, 22, 29):
                out.append(h / (h.square().sum(1, keepdim=True) + 1e-8).sqrt())
        return out
    with torch.no_grad():
        expected = sum(((f0 - f1).square() * lins[f"lin{k}.model.1.weight"].view(1, -1, 1, 1)).sum(1).mean((1, 2))
                       for k, (f0, f1) in enumerate(zip(taps(x0), taps(x1), strict=True)))
    got = lpips_random(x0, x1)
    assert got.shape == (2,) and torch.allclose(got, expected, rtol=1e-4, atol=1e-7)
    assert torch.equal(lpips_random(x0, x0), torch.zeros(2))
    gray = x0[:, :1]
    assert torch.equal(lpips_random(gray, x1[:, :1]), lpips_random(gray.expand(-1, 3, -1, -1),
                                                                   x1[:, :1].expand(-1, 3, -1, -1)))


def test_missing_vgg16_weights_are_a_config_error_naming_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    with pytest.raises(ConfigError, match=r"vgg16-397923af\.pth: none at .*; set metrics\.vgg16_weights=PATH"):
        lpips_distance(None, "")
    with pytest.raises(ConfigError, match=r"metrics\.vgg16_weights=\S*nope\.pth does not exist"):
        lpips_distance(str(tmp_path / "nope.pth"), "")
    cfg = compose_evaluate(["task=ppl", "ckpt=/nonexistent/last.ckpt", f"out_dir={tmp_path}", "metrics.vgg16_url="])
    with pytest.raises(ConfigError, match=r"metrics\.vgg16_weights=PATH"):  # named before the checkpoint is read
        evaluate(cfg)


# --- end to end -----------------------------------------------------------------------------------------------

TINY_STYLEGAN = ["model=stylegan", "model.generator.latent_dim=32", "model.generator.w_dim=32",
                 "model.generator.base_channels=8", "model.generator.max_channels=32",
                 "model.generator.mapping_layers=2", "data.batch_size=16"]


@pytest.fixture(scope="module")
def stylegan_run(tmp_path_factory, random_vgg16_features):
    """A tiny StyleGAN trained for 2 batches on the digits, with the training metrics and PPL on 4 pairs."""
    run = tmp_path_factory.mktemp("stylegan")
    train(compose_train([*FAST, *TINY_STYLEGAN, "trainer.limit_train_batches=2", "metrics.num_samples=32",
                         "metrics.classifier_steps=5", "metrics.every_n_epochs=1", "metrics.ppl_samples=4",
                         f"metrics.vgg16_weights={random_vgg16_features[0]}"], run))
    return run


def test_task_ppl_on_a_stylegan_checkpoint(tmp_path, stylegan_run, random_vgg16_features, lpips_random):
    ckpt = stylegan_run / "checkpoints/last.ckpt"
    cfg = compose_evaluate(["task=ppl", f"ckpt={ckpt}", "num_samples=8", "batch_size=4", "device=cpu",
                            f"metrics.vgg16_weights={random_vgg16_features[0]}", f"out_dir={tmp_path}/out",
                            f"out={tmp_path}/ppl.json"])
    result = evaluate(cfg)
    assert json.loads((tmp_path / "ppl.json").read_text()) == result
    assert math.isfinite(result["ppl2_wend"]) and result["ppl2_wend"] > 0
    assert (result["ppl_space"], result["ppl_sampling"], result["ppl_epsilon"], result["ppl_num_samples"],
            result["ppl_crop"], result["ppl_kept"]) == ("w", "end", 1e-4, 8, False, 8)
    assert result["ppl_network"].startswith("lpips-vgg16-") and result["ppl_network_weights_verified"] is False
    distances = np.load(result["ppl_distances"])
    assert distances.shape == (8,) and distances.mean() == pytest.approx(result["ppl2_wend"])

    # the same generator through the function: seeded (one value per seed), and Z with the face crop
    from gan_experiments.tools.checkpoints import load_module

    module, _ = load_module(ckpt)
    again = perceptual_path_length(module, lpips_random, num_samples=8, batch_size=4, seed=cfg.seed)
    assert again.ppl == pytest.approx(result["ppl2_wend"], rel=1e-6)
    other = perceptual_path_length(module, lpips_random, num_samples=8, batch_size=4, seed=cfg.seed + 1)
    assert other.ppl != pytest.approx(again.ppl, rel=1e-6)
    in_z = perceptual_path_length(module, lpips_random, num_samples=4, batch_size=4, space="z", sampling="full",
                                  crop=True)
    assert torch.isfinite(in_z.distances).all() and in_z.ppl > 0


def test_ppl_in_training_is_off_by_default_and_logged_when_asked(stylegan_run, lpips_random):
    """metrics.ppl_samples=4: val/ppl2_wend in metrics.json, the value of the same 4 seeded pairs on the
    checkpoint written at that epoch's end, with the protocol and network beside it."""
    assert compose_train([]).metrics.ppl_samples == 0
    metrics = json.loads((stylegan_run / "metrics.json").read_text())
    from gan_experiments.tools.checkpoints import load_module

    module, _ = load_module(stylegan_run / "checkpoints/last.ckpt")
    expected = perceptual_path_length(module, lpips_random, num_samples=4, batch_size=4, seed=0)
    assert metrics["val/ppl2_wend"] == pytest.approx(expected.ppl, rel=1e-5)
    assert metrics["val/ppl_protocol"].startswith("ppl2_wend: 4 pairs, lerp between mapped w's, t = 0")
    assert metrics["val/ppl_network"] == lpips_random.fingerprint and "val/fid" in metrics


def test_the_ppl_task_is_typed_its_file_gives_every_field_and_bad_values_name_their_key():
    """What tests/test_tasks_config.py checks of every task (its FUNCTIONS table does not list ppl yet):
    task=ppl composes to its schema, builds ppl_task with exactly its keywords, typed as its fields; the
    yaml starts from the schema and gives every field; wrong types and ranges name their key."""
    import inspect
    import typing
    from enum import Enum

    import yaml
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf

    from gan_experiments.building import build
    from gan_experiments.config.task_schemas import PPLTask, check_task, task_parameters
    from gan_experiments.tools.ppl import ppl_task
    from tests.helpers import CONF

    def composed(*overrides):
        return compose_evaluate(["task=ppl", "ckpt=/nonexistent/last.ckpt", "out_dir=out", *overrides])
    cfg = composed()
    assert OmegaConf.get_type(cfg.task) is PPLTask and check_task(cfg.task) == "ppl"
    built = build(task_parameters(cfg.task), "task")
    assert built.func is ppl_task
    inspect.signature(ppl_task).bind(cfg, **built.keywords)
    keywords = {n for n, p in inspect.signature(ppl_task).parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert set(built.keywords) == keywords
    fields = {n: h for n, h in typing.get_type_hints(PPLTask).items()
              if not n.startswith("_") and typing.get_origin(h) is not typing.ClassVar}
    received = {n: str if isinstance(h, type) and issubclass(h, Enum) else h for n, h in fields.items()}
    assert received == {n: h for n, h in typing.get_type_hints(ppl_task).items() if n not in ("cfg", "return")}
    content = yaml.safe_load((CONF / "task/ppl.yaml").read_text())
    assert content["defaults"] == ["/ppl_task_schema@_here_", "_self_"] and set(content) - {"defaults"} == {*fields, "_target_", "_partial_"}
    for override, key in [("sampling=middle", "task.sampling"), ("space=q", "task.space"), ("crop=maybe", "task.crop")]:
        with pytest.raises(ConfigCompositionException) as refused:
            composed(override)
        assert f"full_key: {key}" in f"{refused.value}\n{refused.value.__cause__}"
    for override in ["epsilon=0", "num_samples=0", "batch_size=0"]:
        with pytest.raises(ConfigError, match=rf"task\.{override.split('=')[0]}=0(\.0)? is invalid"):
            evaluate(composed(override))
