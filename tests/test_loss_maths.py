"""The losses' formulas on known inputs, against values computed here with numpy / torch.distributions from
the papers' definitions (not from the code under test), and their settings' validation messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_experiments.losses import (
    BCELoss,
    GANLoss,
    HingeLoss,
    LSGANLoss,
    WassersteinLoss,
    clip_weights_,
    gradient_penalty,
    interpolate,
    r1_of,
    r1_penalty,
)
from gan_experiments.losses.objective import CriticSchedule
from gan_experiments.losses.vae import kl_to_standard_normal, negative_elbo

# asymmetric, unequal-length outputs: a sum instead of a mean, a swapped sign or a swapped argument all show
REAL = [2.0, -0.5, 0.25, 3.0]
FAKE = [-1.5, 0.75, 1.25]


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def _log_sigmoid(x):
    return -np.log1p(np.exp(-np.asarray(x)))


def test_bce_losses_are_goodfellows_cross_entropies():
    r, f = np.array(REAL), np.array(FAKE)
    d_expected = -_log_sigmoid(r).mean() - np.log(1 - 1 / (1 + np.exp(-f))).mean()
    g_expected = -_log_sigmoid(f).mean()
    assert BCELoss().discriminator_loss(_t(REAL), _t(FAKE)).item() == pytest.approx(d_expected, rel=1e-12)
    assert BCELoss().generator_loss(_t(FAKE)).item() == pytest.approx(g_expected, rel=1e-12)


def test_lsgan_losses_are_least_squares_to_targets_one_and_zero():
    r, f = np.array(REAL), np.array(FAKE)
    assert LSGANLoss().discriminator_loss(_t(REAL), _t(FAKE)).item() == pytest.approx(((r - 1) ** 2).mean() + (f ** 2).mean())
    assert LSGANLoss().generator_loss(_t(FAKE)).item() == pytest.approx(((f - 1) ** 2).mean())


def test_hinge_losses():
    r, f = np.array(REAL), np.array(FAKE)
    d_expected = np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean()
    assert HingeLoss().discriminator_loss(_t(REAL), _t(FAKE)).item() == pytest.approx(d_expected)
    assert HingeLoss().generator_loss(_t(FAKE)).item() == pytest.approx(-f.mean())


def test_wasserstein_losses():
    r, f = np.array(REAL), np.array(FAKE)
    assert WassersteinLoss().discriminator_loss(_t(REAL), _t(FAKE)).item() == pytest.approx(f.mean() - r.mean())
    assert WassersteinLoss().generator_loss(_t(FAKE)).item() == pytest.approx(-f.mean())


def test_criteria_reprs():
    assert [repr(c()) for c in (BCELoss, LSGANLoss, HingeLoss, WassersteinLoss)] == [
        "BCELoss()", "LSGANLoss()", "HingeLoss()", "WassersteinLoss()"]


# ---- penalties ------------------------------------------------------------------------------------------

class SquareCritic(nn.Module):
    """D(x) = sum_j w_j x_j^2 per sample: grad = 2 w x, different for every sample."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))

    def forward(self, x):
        return (self.w * x.flatten(1) ** 2).sum(dim=1)


X = [[[0.5, -1.0], [2.0, 0.0]], [[0.1, 0.2], [0.3, -0.4]], [[1.0, 1.0], [1.0, 1.0]]]  # [3, 2, 2]
W = [1.0, -2.0, 0.5, 3.0]


def _grads():
    x = np.array(X).reshape(3, 4)
    return 2 * np.array(W) * x  # [3, 4]


def test_gradient_penalty_is_the_mean_squared_distance_of_the_gradient_norm_from_one():
    expected = ((np.linalg.norm(_grads(), axis=1) - 1) ** 2).mean()
    got = gradient_penalty(SquareCritic(W), torch.tensor(X, dtype=torch.float64))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_r1_is_the_mean_squared_gradient_norm_on_reals():
    expected = (_grads() ** 2).sum(axis=1).mean()
    critic = SquareCritic(W)
    real = torch.tensor(X, dtype=torch.float64)
    assert r1_penalty(critic, real).item() == pytest.approx(expected, rel=1e-6)
    leaf = real.clone().requires_grad_(True)
    assert r1_of(critic(leaf), leaf).item() == pytest.approx(expected, rel=1e-6)
    assert not real.requires_grad  # the penalty differentiates a detached copy


def test_penalties_are_differentiable_in_the_critic_weights():
    # d GP / d w and d R1 / d w by finite differences: the penalties keep their graph (create_graph=True)
    real = torch.tensor(X, dtype=torch.float64)
    for penalty in (gradient_penalty, r1_penalty):
        critic = SquareCritic(W)
        penalty(critic, real).backward()
        analytic = critic.w.grad.clone()
        for j in range(4):
            step = torch.zeros(4, dtype=torch.float64)
            step[j] = 1e-3
            up = penalty(SquareCritic((torch.tensor(W, dtype=torch.float64) + step).tolist()), real).item()
            down = penalty(SquareCritic((torch.tensor(W, dtype=torch.float64) - step).tolist()), real).item()
            assert analytic[j].item() == pytest.approx((up - down) / 2e-3, rel=1e-3, abs=1e-3)


def test_interpolate_draws_one_eps_per_sample_on_the_segment():
    torch.manual_seed(0)
    real = torch.full((6, 3, 2, 2), 3.0, dtype=torch.float64).requires_grad_(True)
    fake = torch.full((6, 3, 2, 2), -1.0, dtype=torch.float64)
    x = interpolate(real, fake)
    assert x.shape == real.shape and x.dtype == torch.float64 and not x.requires_grad
    eps = (x - fake) / (real.detach() - fake)  # x = eps * real + (1 - eps) * fake
    per_sample = eps.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))  # one eps per sample
    assert ((per_sample >= 0) & (per_sample <= 1)).all()
    assert per_sample[:, 0].unique().numel() == 6  # drawn independently per sample
    # the complement weights fake: real = 0 leaves (1 - eps) * fake
    y = interpolate(torch.zeros(4, 2), torch.full((4, 2), 2.0))
    assert ((y >= 0) & (y <= 2)).all() and (y[:, 0] == y[:, 1]).all()


def test_interpolate_weights_by_one_uniform_draw_per_sample():
    real, fake = torch.full((5, 2, 3), 4.0, dtype=torch.float64), torch.full((5, 2, 3), 2.0, dtype=torch.float64)
    torch.manual_seed(7)
    got = interpolate(real, fake)
    torch.manual_seed(7)
    eps = torch.rand(5, 1, 1, dtype=torch.float64)  # eps ~ U[0, 1] per sample, in the inputs' dtype
    assert torch.allclose(got, eps * 4.0 + (1 - eps) * 2.0, rtol=0, atol=1e-12)


def test_interpolate_puts_eps_on_the_inputs_device():
    real = torch.empty(4, 3, 2, 2, device="meta")
    assert interpolate(real, torch.empty(4, 3, 2, 2, device="meta")).device.type == "meta"


def test_clip_weights_clamps_every_parameter_to_plus_minus_c():
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.5, -0.5], [0.005, -0.02]]))
        net.bias.copy_(torch.tensor([0.011, -0.003]))
    clip_weights_(net, 0.01)
    assert torch.allclose(net.weight, torch.tensor([[0.01, -0.01], [0.005, -0.01]]))
    assert torch.allclose(net.bias, torch.tensor([0.01, -0.003]))


# ---- the objective: critic schedule and settings -----------------------------------------------------------

def test_critic_schedule_follows_the_wgan_authors_loop():
    s = CriticSchedule()  # 100 critic steps while g < 25 or g % 500 == 0, else n_critic
    assert [s.n_critic(g, 5) for g in (0, 1, 24, 25, 26, 499, 500, 501, 1000, 1001)] == [
        100, 100, 100, 5, 5, 5, 100, 5, 100, 5]
    never = CriticSchedule(warmup_generator_steps=2, warmup_n_critic=7, warmup_every=None)
    assert [never.n_critic(g, 3) for g in (0, 1, 2, 500, 1000)] == [7, 7, 3, 3, 3]
    assert CriticSchedule(warmup_generator_steps=0, warmup_every=3).n_critic(3, 5) == 100
    assert CriticSchedule(warmup_generator_steps=0, warmup_every=3).n_critic(4, 5) == 5


def test_critic_schedule_defaults_are_the_authors_values():
    s = CriticSchedule()
    assert (s.warmup_generator_steps, s.warmup_n_critic, s.warmup_every, s.generator_step_at_epoch_end) == (25, 100, 500, True)


def test_critic_schedule_accepts_its_boundaries():
    CriticSchedule(warmup_generator_steps=0, warmup_n_critic=1, warmup_every=1, generator_step_at_epoch_end=False)
    CriticSchedule(warmup_every=None)


@pytest.mark.parametrize("kwargs, message", [
    ({"warmup_generator_steps": -1}, "warmup_generator_steps=-1 is invalid: expected an integer >= 0"),
    ({"warmup_generator_steps": True}, "warmup_generator_steps=True is invalid: expected an integer >= 0"),
    ({"warmup_generator_steps": 2.0}, "warmup_generator_steps=2.0 is invalid: expected an integer >= 0"),
    ({"warmup_n_critic": 0}, "warmup_n_critic=0 is invalid: expected an integer >= 1"),
    ({"warmup_n_critic": False}, "warmup_n_critic=False is invalid: expected an integer >= 1"),
    ({"warmup_every": 0}, "warmup_every=0 is invalid: expected an integer >= 1, or null for never"),
    ({"warmup_every": True}, "warmup_every=True is invalid: expected an integer >= 1, or null for never"),
    ({"generator_step_at_epoch_end": 1}, "generator_step_at_epoch_end=1 is invalid: expected true or false"),
])
def test_critic_schedule_refuses_bad_values_naming_them(kwargs, message):
    with pytest.raises(ValueError) as info:
        CriticSchedule(**kwargs)
    assert str(info.value) == message


def test_gan_loss_steps_and_repr():
    schedule = CriticSchedule(warmup_generator_steps=1, warmup_n_critic=9, warmup_every=None)
    loss = GANLoss(WassersteinLoss(), n_critic=5, gp_weight=10.0, clip_value=0.01, r1_weight=0.5,
                   critic_schedule=schedule)
    assert (loss.n_critic, loss.gp_weight, loss.clip_value, loss.r1_weight) == (5, 10.0, 0.01, 0.5)
    assert loss.critic_schedule is schedule and isinstance(loss.criterion, WassersteinLoss)
    assert [loss.critic_steps_before(g) for g in (0, 1, 2)] == [9, 5, 5]
    assert [GANLoss(BCELoss(), n_critic=3).critic_steps_before(g) for g in (0, 24, 500)] == [3, 3, 3]
    assert repr(GANLoss(HingeLoss())) == (
        "GANLoss(HingeLoss(), n_critic=1, gp_weight=0.0, clip_value=None, r1_weight=0.0, critic_schedule=None, "
        "critic_norm='batch')")
    # a mapping of CriticSchedule's fields (the config's '{...}' spelling) is the schedule those fields make
    mapped = GANLoss(WassersteinLoss(), critic_schedule={"warmup_n_critic": 3})
    assert mapped.critic_schedule == CriticSchedule(warmup_n_critic=3)
    assert GANLoss(WassersteinLoss(), critic_norm="layer").critic_norm == "layer"
    plain = GANLoss(BCELoss())
    assert (plain.n_critic, plain.gp_weight, plain.clip_value, plain.r1_weight, plain.critic_schedule) == (1, 0.0, None, 0.0, None)


def test_gan_loss_accepts_its_boundaries():
    GANLoss(BCELoss(), n_critic=1, gp_weight=0.0, r1_weight=0.0, clip_value=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_critic": 0}, "n_critic must be an integer >= 1, got 0"),
    ({"n_critic": 2.0}, "n_critic must be an integer >= 1, got 2.0"),
    ({"critic_schedule": 3}, "critic_schedule must be a CriticSchedule, a mapping of its fields or None, got 3"),
    ({"critic_schedule": {"warmup_n_critic": 0}}, "critic_schedule.warmup_n_critic=0 is invalid: expected an integer >= 1"),
    ({"critic_schedule": {"every": 5}}, "critic_schedule has no field 'every': its fields are warmup_generator_steps, "
                                         "warmup_n_critic, warmup_every, generator_step_at_epoch_end"),
    ({"gp_weight": -0.5}, "gp_weight must be >= 0, got -0.5"),
    ({"r1_weight": -1e-3}, "r1_weight must be >= 0, got -0.001"),
    ({"clip_value": 0.0}, "clip_value must be > 0 or null, got 0.0"),
    ({"clip_value": -0.01}, "clip_value must be > 0 or null, got -0.01"),
])
def test_gan_loss_refuses_bad_settings_naming_them(kwargs, message):
    with pytest.raises(ValueError) as info:
        GANLoss(BCELoss(), **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("weights, refused", [
    ({"gp_weight": 10.0}, True), ({"gp_weight": 0.5}, True), ({"r1_weight": 0.5}, True), ({}, False)])
def test_penalties_refuse_batch_norm_critics_only(weights, refused):
    bn_critic = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    loss = GANLoss(WassersteinLoss(), **weights)
    loss.check_discriminator(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)))  # no batch norm: fine
    if refused:
        with pytest.raises(ValueError) as info:
            loss.check_discriminator(bn_critic)
        assert str(info.value) == (
            "a gradient penalty (gp_weight or r1_weight) is not valid with batch norm in the critic; "
            "use model.discriminator.norm=layer (or instance/none)")
    else:
        loss.check_discriminator(bn_critic)


# ---- VAE ----------------------------------------------------------------------------------------------------

MU = [[0.5, -1.0, 0.0], [2.0, 0.3, -0.7]]
LOGVAR = [[0.0, -1.0, 0.4], [1.5, -0.2, 0.0]]


def _kl_reference():
    q = torch.distributions.Normal(_t(MU), _t(LOGVAR).mul(0.5).exp())
    p = torch.distributions.Normal(torch.zeros(2, 3, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64))
    return torch.distributions.kl_divergence(q, p).sum(dim=1)


def test_kl_is_the_gaussian_kl_to_the_standard_normal_per_sample():
    got = kl_to_standard_normal(_t(MU), _t(LOGVAR))
    assert got.shape == (2,)
    assert torch.allclose(got, _kl_reference())


def test_negative_elbo_is_the_gaussian_nll_plus_beta_kl():
    x = _t([[[0.5, -0.5], [1.0, 0.0]], [[0.0, 0.2], [-1.0, 0.7]]])
    x_hat = _t([[[0.0, -0.1], [0.4, 0.3]], [[0.5, 0.5], [-0.2, 0.1]]])
    sigma, beta = 0.5, 3.0
    # -log N(x; x_hat, sigma^2 I) up to its constant, summed per image, averaged over the batch
    recon_expected = np.mean([((x[i] - x_hat[i]) ** 2).sum().item() / (2 * sigma**2) for i in range(2)])
    kl_expected = _kl_reference().mean().item()
    loss, recon, kl = negative_elbo(x, x_hat, _t(MU), _t(LOGVAR), sigma=sigma, beta=beta)
    assert recon.item() == pytest.approx(recon_expected)
    assert kl.item() == pytest.approx(kl_expected)
    assert loss.item() == pytest.approx(recon_expected + beta * kl_expected)
    default_loss, default_recon, _ = negative_elbo(x, x_hat, _t(MU), _t(LOGVAR))  # sigma = beta = 1
    assert default_recon.item() == pytest.approx(recon_expected * sigma**2)
    assert default_loss.item() == pytest.approx(recon_expected * sigma**2 + kl_expected)
    assert math.isfinite(default_loss.item())
