"""Each loss and penalty on inputs whose answer is known in closed form."""

import math

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
    r1_penalty,
)


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_bce_at_chance_is_log_2_terms():
    # D(x) = D(G(z)) = 1/2 (logit 0): L_D = 2 log 2, L_G = log 2
    loss = BCELoss()
    assert loss.discriminator_loss(t(0, 0), t(0, 0)).item() == pytest.approx(2 * math.log(2))
    assert loss.generator_loss(t(0, 0)).item() == pytest.approx(math.log(2))


def test_bce_matches_probabilities():
    # sigma(log 3) = 0.75 on real, sigma(-log 3) = 0.25 on fake: L_D = -log .75 - log(1 - .25)
    loss = BCELoss()
    real, fake = t(math.log(3)), t(-math.log(3))
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(-2 * math.log(0.75), rel=1e-6)
    assert loss.generator_loss(fake).item() == pytest.approx(-math.log(0.25), rel=1e-6)


def test_bce_is_stable_for_huge_logits():
    loss = BCELoss()
    assert torch.isfinite(loss.discriminator_loss(t(1e4), t(-1e4)))
    assert loss.generator_loss(t(-1e4)).item() == pytest.approx(1e4)


def test_lsgan_values():
    loss = LSGANLoss()
    assert loss.discriminator_loss(t(1, 1), t(0, 0)).item() == 0
    assert loss.discriminator_loss(t(0, 0), t(1, 1)).item() == pytest.approx(2.0)
    assert loss.generator_loss(t(0.5, 1.5)).item() == pytest.approx(0.25)


def test_hinge_values():
    loss = HingeLoss()
    assert loss.discriminator_loss(t(2, 1), t(-1, -3)).item() == 0  # both margins satisfied
    assert loss.discriminator_loss(t(0), t(0)).item() == pytest.approx(2.0)
    assert loss.discriminator_loss(t(0.5), t(0.5)).item() == pytest.approx(0.5 + 1.5)
    assert loss.generator_loss(t(1, 3)).item() == pytest.approx(-2.0)


def test_wasserstein_values():
    loss = WassersteinLoss()
    assert loss.discriminator_loss(t(3, 5), t(1, 1)).item() == pytest.approx(1 - 4)
    assert loss.generator_loss(t(1, 3)).item() == pytest.approx(-2.0)


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so ||grad|| = ||w||."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("norm", [1.0, 3.0, 0.5])
def test_gradient_penalty_of_linear_critic(norm):
    w = torch.randn(12)
    critic = LinearCritic(w / w.norm() * norm)
    x_hat = torch.randn(8, 3, 2, 2)
    gp = gradient_penalty(critic, x_hat)
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-5, abs=1e-7)


def test_gradient_penalty_backpropagates_to_critic_weights():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5
    critic = LinearCritic(w.clone())
    gradient_penalty(critic, torch.randn(4, 2)).backward()
    assert torch.allclose(critic.w.grad, 2 * (5 - 1) * w / 5, rtol=1e-5)


@pytest.mark.parametrize("penalty", [gradient_penalty, r1_penalty])
def test_penalties_under_fp16_autocast_match_fp32(penalty):
    """Real fp16 autocast on the CPU: the input gradient is taken without any loss scale, so the penalty is
    finite and equal to fp32's to fp16 precision (a scaled sum overflowed fp16 to NaN at 65536)."""
    from gan_experiments.networks import DCGANDiscriminator

    torch.manual_seed(0)
    critic = DCGANDiscriminator(image_size=16, channels=3, base_channels=16, num_classes=0, norm="layer")
    x = torch.randn(8, 3, 16, 16)
    exact = penalty(critic, x).item()
    with torch.autocast("cpu", dtype=torch.float16):
        half = penalty(critic, x)
    assert half.dtype == torch.float32 and half.item() == pytest.approx(exact, rel=1e-2)


def test_interpolate_lies_on_segments():
    real, fake = torch.zeros(64, 2, 3, 3), torch.ones(64, 2, 3, 3)
    x_hat = interpolate(real, fake)
    # per sample, one eps for every coordinate: x_hat = 1 - eps
    per_sample = x_hat.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert per_sample.min() >= 0 and per_sample.max() <= 1 and per_sample[:, 0].std() > 0.1
    assert not x_hat.requires_grad


def test_clip_weights():
    net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    for p in net.parameters():
        nn.init.uniform_(p, -1, 1)
    clip_weights_(net, 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
    assert any((p.abs() == 0.01).any() for p in net.parameters())


def test_gan_loss_validates_its_settings():
    with pytest.raises(ValueError, match="n_critic"):
        GANLoss(WassersteinLoss(), n_critic=0)
    with pytest.raises(ValueError, match="gp_weight"):
        GANLoss(WassersteinLoss(), gp_weight=-1)
    with pytest.raises(ValueError, match="clip_value"):
        GANLoss(WassersteinLoss(), clip_value=0)


def test_gradient_penalty_refuses_batch_norm_critic():
    critic = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="model.discriminator.norm"):
        GANLoss(WassersteinLoss(), gp_weight=10).check_discriminator(critic)
    GANLoss(BCELoss()).check_discriminator(critic)  # fine without a penalty


def test_r1_penalty_of_linear_critic():
    # grad_x <w, x> = w, so R1 = ||w||^2, and d/dw ||w||^2 = 2 w
    critic = LinearCritic(torch.tensor([1.0, -2.0, 2.0]))
    r1 = r1_penalty(critic, torch.randn(6, 3))
    assert r1.item() == pytest.approx(9.0)
    r1.backward()
    assert torch.allclose(critic.w.grad, 2 * critic.w.detach())
