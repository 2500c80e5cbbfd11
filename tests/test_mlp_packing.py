"""PacGAN packing in MLPDiscriminator (Lin et al. 2018): D(x_1, ..., x_m) on m concatenated samples.

Each expected value is computed by hand from the layer weights (one hidden layer: D(v) = w2 . lrelu(W1 v + b1)
+ b2), not by calling the network's own packing.
"""

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from gan_experiments.losses import BCELoss, GANLoss, WassersteinLoss, gradient_penalty, r1_penalty
from gan_experiments.models import GANModule
from gan_experiments.networks import MLPDiscriminator, MLPGenerator
from gan_experiments.pipeline import train
from tests.helpers import FAST, compose_train


def one_hidden_layer(pack: int, num_classes: int = 0, features: int = 2) -> MLPDiscriminator:
    torch.manual_seed(0)
    return MLPDiscriminator(input_shape=(features,), hidden_dims=(5,), num_classes=num_classes, pack=pack).double()


def by_hand(d: MLPDiscriminator, v: torch.Tensor) -> torch.Tensor:
    """D(v) for one packed input v [m * F], and its gradient dD/dv [m * F], from the weights."""
    w1, b1, w2, b2 = d.net[0].weight, d.net[0].bias, d.net[2].weight[0], d.net[2].bias[0]
    pre = w1 @ v + b1
    value = w2 @ F.leaky_relu(pre, 0.2) + b2
    slope = torch.where(pre > 0, 1.0, 0.2).to(v.dtype)
    return value, w1.T @ (w2 * slope)


@pytest.mark.parametrize("pack", [2, 4])
def test_packed_output_is_the_mlp_of_the_concatenated_samples(pack):
    d = one_hidden_layer(pack)
    x = torch.randn(4 * pack, 2, dtype=torch.float64)
    out = d(x)
    assert out.shape == (4,)
    for j in range(4):
        v = torch.cat([x[j * pack + i] for i in range(pack)])  # pack j: samples j*m ... j*m + m - 1
        assert out[j].item() == pytest.approx(by_hand(d, v)[0].item(), abs=1e-12)
    assert d.net[0].in_features == 2 * pack


def test_pack_1_is_the_plain_discriminator():
    d = one_hidden_layer(1)
    x = torch.randn(3, 2, dtype=torch.float64)
    assert torch.allclose(d(x), torch.stack([by_hand(d, row)[0] for row in x]))


def test_conditional_packs_concatenate_each_sample_with_its_label():
    d = one_hidden_layer(2, num_classes=3)
    x, labels = torch.randn(4, 2, dtype=torch.float64), torch.tensor([2, 0, 1, 1])
    out = d(x, labels)
    onehot = F.one_hot(labels, 3).double()
    for j in range(2):
        v = torch.cat([x[2 * j], onehot[2 * j], x[2 * j + 1], onehot[2 * j + 1]])
        assert out[j].item() == pytest.approx(by_hand(d, v)[0].item(), abs=1e-12)


def test_a_batch_not_divisible_by_the_pack_names_the_key():
    d = one_hidden_layer(4)
    with pytest.raises(ValueError, match=r"model\.discriminator\.pack=4 .* multiple of 4, got 6 samples"):
        d(torch.randn(6, 2, dtype=torch.float64))


@pytest.mark.parametrize("pack", [0, -2, True])
def test_pack_must_be_a_positive_integer(pack):
    with pytest.raises(ValueError, match=r"model\.discriminator\.pack must be an integer >= 1"):
        MLPDiscriminator(input_shape=(2,), pack=pack)


def test_r1_and_gp_of_a_packed_critic_differentiate_each_sample():
    """R1 = mean over samples of ||dD(pack of x_i)/dx_i||^2; GP = mean over samples of (||that|| - 1)^2
    (the penalties take the gradient in fp32, hence rel 1e-6)."""
    pack, packs = 2, 3
    d = one_hidden_layer(pack)
    x = torch.randn(pack * packs, 2, dtype=torch.float64)
    blocks = []  # [N, 2]: sample i's block of its pack's gradient
    for j in range(packs):
        grad = by_hand(d, torch.cat([x[j * pack + i] for i in range(pack)]))[1]
        blocks += list(grad.view(pack, 2))
    blocks = torch.stack(blocks)
    assert r1_penalty(d, x).item() == pytest.approx(blocks.pow(2).sum(1).mean().item(), rel=1e-6)
    assert gradient_penalty(d, x).item() == pytest.approx((blocks.norm(dim=1) - 1).pow(2).mean().item(), rel=1e-6)


@pytest.mark.parametrize("criterion", [BCELoss(), WassersteinLoss()])
def test_the_critic_loss_averages_over_packs(criterion):
    """GANModule's D loss with a packed D (and R1 on it) from the per-pack values computed by hand."""
    pack = 2
    d = one_hidden_layer(pack)
    g = MLPGenerator(output_shape=(2,), latent_dim=2, hidden_dims=(4,), batch_norm=False, output_activation="none")
    module = GANModule(g.double(), d, GANLoss(criterion, r1_weight=2.0), partial(torch.optim.Adam), partial(torch.optim.Adam))
    real, fake = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    terms = module._critic_loss(real, fake, None)
    packs = lambda x: [torch.cat([x[2 * j], x[2 * j + 1]]) for j in range(2)]  # noqa: E731
    d_real = torch.stack([by_hand(d, v)[0] for v in packs(real)])
    d_fake = torch.stack([by_hand(d, v)[0] for v in packs(fake)])
    r1 = torch.stack([by_hand(d, v)[1].pow(2).sum() for v in packs(real)]).sum() / 4  # per sample
    if isinstance(criterion, BCELoss):
        expected = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    else:
        expected = d_fake.mean() - d_real.mean()
    assert terms["d_loss"].item() == pytest.approx((expected + r1).item(), rel=1e-6)
    assert terms["r1"].item() == pytest.approx(r1.item(), rel=1e-6)


@pytest.mark.parametrize("loss", ["bce", "wgan_gp"])
def test_a_packed_toy_run_trains(tmp_path, loss):
    cfg = compose_train(["experiment=toy2d_gan", f"loss={loss}", "model.discriminator.pack=4", "loss.r1_weight=0.1",
                         "model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]",
                         "data.train_size=2048", *FAST], tmp_path)
    metrics = train(cfg)
    assert 0 <= metrics["val/modes_covered"] <= 8


def test_a_packed_run_with_an_indivisible_batch_names_the_key(tmp_path):
    cfg = compose_train(["experiment=toy2d_gan", "model.discriminator.pack=3", "data.batch_size=16",
                         "model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]",
                         "data.train_size=2048", *FAST], tmp_path)
    with pytest.raises(ValueError, match=r"model\.discriminator\.pack=3"):
        train(cfg)
