"""GANModule's critic and generator steps on a linear critic and a constant generator, so every loss and every
SGD update is known in closed form: L_D + lambda GP + gamma/2 R1, weight clipping, the generator loss, the
n_critic alternation and the WGAN authors' schedule, the EMA warm-up, checkpoint counters.

The steps run without a Lightning loop (``Harness`` supplies the optimizers, toggling, backward and logging
the way Lightning's manual optimization does), so each test takes milliseconds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from gan_experiments.losses import BCELoss, GANLoss, WassersteinLoss
from gan_experiments.losses.objective import CriticSchedule
from gan_experiments.models.gan import GANModule, warmup_ema
from gan_experiments.training.diffaugment import DiffAugment

W0 = [0.6, -0.8, 0.5]  # ||w|| = sqrt(1.25)
B0 = [1.0, 2.0, -1.0]


class ConstantGenerator(nn.Module):
    """G(z) = b for every z (plus 0 * z, so z's shape is checked); optionally records the labels it gets."""

    latent_dim = 4

    def __init__(self, num_classes=0):
        super().__init__()
        self.num_classes = num_classes
        self.b = nn.Parameter(torch.tensor(B0))
        self.labels, self.sizes = [], []
        self.register_buffer("seen", torch.tensor(0.0))

    def forward(self, z, labels=None):
        assert z.shape[1] == self.latent_dim
        self.labels.append(labels)
        self.sizes.append(len(z))
        return self.b.expand(len(z), -1) + 0 * z[:, :1]


class LinearCritic(nn.Module):
    """D(x) = w . x: grad_x D = w for every x, so GP = (||w|| - 1)^2 and R1 = ||w||^2 exactly."""

    def __init__(self, norm=None):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(W0))
        self.norm = norm or nn.Identity()
        self.labels = []

    def forward(self, x, labels=None):
        self.labels.append(labels)
        return self.norm(x) @ self.w


class Harness(GANModule):
    """The Lightning hooks training_step uses, as manual optimization does them (no Trainer)."""

    def __init__(self, *args, world_size=1, num_training_batches=100, **kwargs):
        super().__init__(*args, **kwargs)
        self._opts = self.configure_optimizers()
        self._trainer_stub = SimpleNamespace(world_size=world_size, num_training_batches=num_training_batches)
        self.logged, self.toggled = {}, []

    @property
    def trainer(self):
        return self._trainer_stub

    def optimizers(self, use_pl_optimizer=True):
        return self._opts

    def toggle_optimizer(self, optimizer):
        assert optimizer in self._opts
        self.toggled.append(self._opts.index(optimizer))
        mine = {id(p) for group in optimizer.param_groups for p in group["params"]}
        for p in self.parameters():
            p.requires_grad_(id(p) in mine)

    def untoggle_optimizer(self, optimizer):
        assert optimizer in self._opts
        for p in self.parameters():
            p.requires_grad_(True)

    def manual_backward(self, loss, *args, **kwargs):
        loss.backward()

    def log(self, name, value, **kwargs):
        self.logged[name] = (value, kwargs)


def sgd(lr):
    return lambda params: torch.optim.SGD(params, lr=lr)


def make(loss=None, lr_d=0.1, lr_g=0.1, **kwargs):
    harness_kwargs = {k: kwargs.pop(k) for k in ("world_size", "num_training_batches") if k in kwargs}
    generator = kwargs.pop("generator", None) or ConstantGenerator()
    critic = kwargs.pop("discriminator", None) or LinearCritic()
    return Harness(generator, critic, loss or GANLoss(WassersteinLoss()), sgd(lr_g), sgd(lr_d), **kwargs,
                   **harness_kwargs)


REAL = torch.tensor([[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]])


def _w(m):
    return m.discriminator.w.detach().clone()


def _b(m):
    return m.generator.b.detach().clone()


def test_critic_step_minimizes_the_wgan_gp_r1_loss():
    lam, gamma, lr = 10.0, 4.0, 0.1
    m = make(GANLoss(WassersteinLoss(), n_critic=5, gp_weight=lam, r1_weight=gamma), lr_d=lr)
    w, b = torch.tensor(W0), torch.tensor(B0)
    norm = w.norm()
    d_real, d_fake = (REAL @ w).mean(), b @ w
    expected_loss = d_fake - d_real + lam * (norm - 1) ** 2 + gamma / 2 * norm**2
    # dL/dw = b - mean(real) + lam * 2 (||w|| - 1) w / ||w|| + gamma w
    grad = b - REAL.mean(0) + lam * 2 * (norm - 1) * w / norm + gamma * w
    logs = m.training_step((REAL, torch.zeros(2, dtype=torch.long)), 0)
    assert set(logs) == {"d_real", "d_fake", "gp", "r1", "d_loss"}
    assert logs["d_real"].item() == pytest.approx(d_real.item(), rel=1e-5)
    assert logs["d_fake"].item() == pytest.approx(d_fake.item(), rel=1e-5)
    assert logs["gp"].item() == pytest.approx(((norm - 1) ** 2).item(), rel=1e-4)
    assert logs["r1"].item() == pytest.approx((norm**2).item(), rel=1e-5)
    assert logs["d_loss"].item() == pytest.approx(expected_loss.item(), rel=1e-5)
    assert not any(v.requires_grad for v in logs.values())
    assert torch.allclose(_w(m), w - lr * grad, atol=1e-6)
    assert torch.equal(_b(m), b)  # G is not trained by the critic step
    assert m.toggled == [1]


@pytest.mark.parametrize("gp, r1, expected_keys", [(0.0, 0.0, set()), (2.0, 0.0, {"gp"}), (0.0, 0.5, {"r1"})])
def test_each_penalty_only_when_weighted(gp, r1, expected_keys):
    m = make(GANLoss(WassersteinLoss(), n_critic=2, gp_weight=gp, r1_weight=r1), lr_d=0.0)
    w, b = torch.tensor(W0), torch.tensor(B0)
    logs = m.training_step((REAL, torch.zeros(2)), 0)
    assert set(logs) == {"d_real", "d_fake", "d_loss"} | expected_keys
    base = b @ w - (REAL @ w).mean()
    penalty = gp * (w.norm() - 1) ** 2 + r1 / 2 * w.norm() ** 2
    assert logs["d_loss"].item() == pytest.approx((base + penalty).item(), rel=1e-5)


def test_weight_clipping_follows_the_critic_update():
    m = make(GANLoss(WassersteinLoss(), n_critic=5, clip_value=0.7), lr_d=0.1)
    w = torch.tensor(W0) - 0.1 * (torch.tensor(B0) - REAL.mean(0))  # the SGD step on E[D(fake)] - E[D(real)]
    m.training_step((REAL, torch.zeros(2)), 0)
    assert torch.allclose(_w(m), w.clamp(-0.7, 0.7))
    assert (w.abs() > 0.7).any() and (w.abs() < 0.7).any()  # both sides of the clip are exercised


def test_generator_step_every_n_critic_th_batch_minimizes_the_generator_loss():
    lr_g = 0.5
    m = make(GANLoss(WassersteinLoss(), n_critic=2), lr_d=0.0, lr_g=lr_g)
    b, w = torch.tensor(B0), torch.tensor(W0)
    first = m.training_step((REAL, torch.zeros(2)), 0)
    assert "g_loss" not in first and torch.equal(_b(m), b)
    assert (m.critic_steps, m.generator_steps, m.critic_steps_since_generator_step) == (1, 0, 1)
    second = m.training_step((REAL, torch.zeros(2)), 1)
    # L_G = -E[D(G(z))] = -w . b; dL/db = -w
    assert second["g_loss"].item() == pytest.approx(-(w @ b).item(), rel=1e-6)
    assert not second["g_loss"].requires_grad
    assert torch.allclose(_b(m), b + lr_g * w)
    assert torch.equal(_w(m), w)  # lr_d = 0 and the generator step leaves D alone
    assert (m.critic_steps, m.generator_steps, m.critic_steps_since_generator_step) == (2, 1, 0)
    assert m.toggled == [1, 1, 0]
    steps = [("g_loss" in m.training_step((REAL, torch.zeros(2)), i)) for i in range(2, 8)]
    assert steps == [False, True, False, True, False, True]
    assert (m.critic_steps, m.generator_steps) == (8, 4)
    assert set(m.generator.sizes) == {2}  # z has one row per real image in both steps
    assert m.automatic_optimization is False  # Lightning must leave the steps to training_step


def test_every_batch_steps_the_generator_with_n_critic_1_and_d_gets_no_generator_gradient():
    m = make(GANLoss(BCELoss()), lr_d=0.1, lr_g=0.1)
    m.training_step((REAL, torch.zeros(2)), 0)
    assert m.generator_steps == 1
    w_after_critic = _w(m)
    m.discriminator.w.grad = None
    m.training_step((REAL, torch.zeros(2)), 1)
    assert m.generator_steps == 2 and m.critic_steps_since_generator_step == 0
    assert not torch.equal(_w(m), w_after_critic)


def test_logging_names_progress_bar_and_sync():
    m = make(GANLoss(WassersteinLoss()), lr_d=0.0, world_size=1)
    m.training_step((REAL, torch.zeros(2)), 0)
    assert set(m.logged) == {"train/d_real", "train/d_fake", "train/d_loss", "train/g_loss"}
    for name, (_value, kwargs) in m.logged.items():
        shown = name in ("train/d_loss", "train/g_loss")
        assert kwargs == {"on_step": True, "on_epoch": True, "prog_bar": shown, "sync_dist": False}, name
    assert m.logged["train/g_loss"][0].item() == pytest.approx(-(torch.tensor(W0) @ torch.tensor(B0)).item())
    ddp = make(GANLoss(WassersteinLoss()), world_size=2)
    ddp.training_step((REAL, torch.zeros(2)), 0)
    assert all(kwargs["sync_dist"] is True for _, kwargs in ddp.logged.values())


def test_the_wgan_authors_schedule_steps_g_after_its_count_or_at_the_epoch_end():
    schedule = CriticSchedule(warmup_generator_steps=1, warmup_n_critic=3, warmup_every=None)
    m = make(GANLoss(WassersteinLoss(), n_critic=2, critic_schedule=schedule), num_training_batches=100)
    g_steps = [("g_loss" in m.training_step((REAL, torch.zeros(2)), i)) for i in range(9)]
    # 3 critic steps before the first generator step, then n_critic = 2
    assert g_steps == [False, False, True, False, True, False, True, False, True]
    assert (m.critic_steps, m.generator_steps, m.critic_steps_since_generator_step) == (9, 4, 0)
    # the epoch's last batch (batch_idx + 1 == num_training_batches) steps G whatever the count
    m = make(GANLoss(WassersteinLoss(), n_critic=5, critic_schedule=schedule), num_training_batches=2)
    assert ["g_loss" in m.training_step((REAL, torch.zeros(2)), i) for i in (0, 1)] == [False, True]
    assert m.critic_steps_since_generator_step == 0
    # unless generator_step_at_epoch_end is off: batches are one stream across epochs
    stream = CriticSchedule(warmup_generator_steps=1, warmup_n_critic=3, warmup_every=None,
                            generator_step_at_epoch_end=False)
    m = make(GANLoss(WassersteinLoss(), n_critic=5, critic_schedule=stream), num_training_batches=2)
    assert ["g_loss" in m.training_step((REAL, torch.zeros(2)), i % 2) for i in range(3)] == [False, False, True]


def test_conditional_models_pass_the_labels_to_both_networks():
    labels = torch.tensor([1, 0])
    m = make(GANLoss(WassersteinLoss(), gp_weight=1.0), generator=ConstantGenerator(num_classes=2))
    m.training_step((REAL, labels), 0)
    assert all(lab is labels for lab in m.generator.labels) and len(m.generator.labels) == 2
    assert all(lab is labels for lab in m.discriminator.labels) and len(m.discriminator.labels) == 4  # real, fake, GP, G
    plain = make(GANLoss(WassersteinLoss()))
    plain.training_step((REAL, labels), 0)
    assert plain.generator.labels == [None, None] and plain.discriminator.labels == [None, None, None]
    assert m.num_classes == 2 and plain.num_classes == 0 and plain.latent_dim == 4


class Double(nn.Module):
    def forward(self, x):
        return 2 * x


def test_the_augmentation_is_applied_in_both_losses():
    m = make(GANLoss(WassersteinLoss()), lr_d=0.0)
    m.augment = Double()
    w, b = torch.tensor(W0), torch.tensor(B0)
    logs = m.training_step((REAL, torch.zeros(2)), 0)
    assert logs["d_real"].item() == pytest.approx((2 * REAL @ w).mean().item())
    assert logs["d_fake"].item() == pytest.approx((2 * b @ w).item())
    assert logs["g_loss"].item() == pytest.approx(-(2 * b @ w).item())


def test_diffaugment_option_builds_the_policy():
    m = make(diffaugment=["translation", "cutout"])
    assert isinstance(m.augment, DiffAugment) and m.augment.policy == ("translation", "cutout")
    assert isinstance(make().augment, nn.Identity) and isinstance(make(diffaugment=[]).augment, nn.Identity)


def test_gradient_penalties_refuse_a_batch_norm_critic():
    with pytest.raises(ValueError, match="batch norm"):
        make(GANLoss(WassersteinLoss(), gp_weight=10.0), discriminator=LinearCritic(norm=nn.BatchNorm1d(3)))


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_ema_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError) as info:
        make(ema_decay=decay)
    assert str(info.value) == f"model.ema_decay must be in [0, 1), got {decay}"


def test_warmup_ema_lerps_by_one_minus_min_decay_warmup():
    update = warmup_ema(0.5)
    averaged, current = [torch.tensor([0.0, 10.0])], [torch.tensor([1.0, 0.0])]
    update(averaged, current, torch.tensor(0))  # d = min(0.5, 1/10) = 0.1: 0.1 * avg + 0.9 * current
    assert torch.allclose(averaged[0], torch.tensor([0.9, 1.0]))
    averaged = [torch.tensor([0.0, 10.0])]
    update(averaged, current, torch.tensor(90))  # d = min(0.5, 91/100) = 0.5
    assert torch.allclose(averaged[0], torch.tensor([0.5, 5.0]))
    averaged = [torch.tensor([0.0])]
    warmup_ema(0.99)(averaged, [torch.tensor([1.0])], torch.tensor(8))  # d = min(0.99, 9/18) = 0.5
    assert torch.allclose(averaged[0], torch.tensor([0.5]))
    counters = [torch.tensor([3])]
    update(counters, [torch.tensor([7])], torch.tensor(0))  # integer buffers are copied
    assert counters[0].tolist() == [7]


def test_ema_generator_follows_each_generator_step_and_samples():
    m = make(GANLoss(WassersteinLoss()), lr_g=0.5, ema_decay=0.9)
    assert isinstance(m.generator_ema, AveragedModel) and m.sampler is m.generator_ema.module
    assert not any(p.requires_grad for p in m.generator_ema.parameters())
    m.training_step((REAL, torch.zeros(2)), 0)
    b1 = _b(m)
    # first update of AveragedModel copies G; the next lerps with d = min(0.9, 2/11)
    m.training_step((REAL, torch.zeros(2)), 1)
    b2 = _b(m)
    d = 2 / 11
    assert torch.allclose(m.generator_ema.module.b, d * b1 + (1 - d) * b2)
    m.generator.seen.fill_(5.0)  # float buffers are averaged like the weights (use_buffers)
    m.training_step((REAL, torch.zeros(2)), 2)
    assert m.generator_ema.module.seen.item() == pytest.approx((1 - 3 / 12) * 5.0)
    b3, d = _b(m), 3 / 12
    b_ema = d * (2 / 11 * b1 + 9 / 11 * b2) + (1 - d) * b3
    assert torch.allclose(m.generator_ema.module.b, b_ema)
    d, b1, b2 = 0.0, b_ema, b_ema
    out = m.sample(torch.zeros(3, 4))
    assert torch.allclose(out, (d * b1 + (1 - d) * b2).expand(3, -1)) and not out.requires_grad
    plain = make()
    assert plain.generator_ema is None and plain.sampler is plain.generator


def test_sample_runs_in_eval_mode_without_gradients_and_restores_the_mode():
    class ModeGenerator(ConstantGenerator):
        def forward(self, z, labels=None):
            self.modes = getattr(self, "modes", []) + [self.training]
            return super().forward(z, labels)

    m = make(generator=ModeGenerator())
    m.train()
    out = m.sample(torch.zeros(2, 4), torch.tensor([0, 1]))
    assert m.generator.modes == [False] and m.generator.training and not out.requires_grad
    assert m.generator.labels[-1].tolist() == [0, 1]
    assert m.sample_latent(5).shape == (5, 4)


def test_optimizers_are_g_then_d_over_their_own_parameters():
    m = make()
    opt_g, opt_d = m.configure_optimizers()
    assert opt_g.param_groups[0]["params"] == [m.generator.b]
    assert opt_d.param_groups[0]["params"] == [m.discriminator.w]


def test_forward_is_the_generator_with_its_labels():
    m = make(generator=ConstantGenerator(num_classes=2))
    labels = torch.tensor([1, 0])
    assert torch.equal(m(torch.zeros(2, 4), labels).detach(), torch.tensor(B0).expand(2, -1))
    assert m.generator.labels == [labels]


def test_checkpoint_counters_round_trip_and_old_checkpoints_derive_them():
    m = make(GANLoss(WassersteinLoss(), n_critic=3))
    m.critic_steps, m.generator_steps, m.critic_steps_since_generator_step = 11, 4, 1  # not 11 % 3
    checkpoint = {}
    m.on_save_checkpoint(checkpoint)
    assert checkpoint == {"critic_steps": 11, "generator_steps": 4, "critic_steps_since_generator_step": 1}
    other = make(GANLoss(WassersteinLoss(), n_critic=3))
    other.on_load_checkpoint(checkpoint)
    assert (other.critic_steps, other.generator_steps, other.critic_steps_since_generator_step) == (11, 4, 1)
    old = make(GANLoss(WassersteinLoss(), n_critic=3))
    old.on_load_checkpoint({"critic_steps": 7})  # before these counters: a constant n_critic = 3
    assert (old.critic_steps, old.generator_steps, old.critic_steps_since_generator_step) == (7, 2, 1)
    fresh = make()
    fresh.on_load_checkpoint({})
    assert (fresh.critic_steps, fresh.generator_steps, fresh.critic_steps_since_generator_step) == (0, 0, 0)


def test_gradients_are_reset_to_none_before_each_step():
    """zero_grad(set_to_none=True): a parameter this step does not reach keeps grad None, so Adam leaves it
    alone (a zeroed gradient would still move it through Adam's moments)."""

    class Sometimes(ConstantGenerator):
        def __init__(self):
            super().__init__()
            self.extra = nn.Parameter(torch.tensor([0.3, 0.3, 0.3]))
            self.calls = 0

        def forward(self, z, labels=None):
            self.calls += 1
            out = super().forward(z, labels)
            return out + self.extra if self.calls == 2 else out  # extra only in the first G step

    m = Harness(Sometimes(), LinearCritic(), GANLoss(WassersteinLoss()),
                lambda p: torch.optim.Adam(p, lr=0.1), sgd(0.0))
    m.training_step((REAL, torch.zeros(2)), 0)  # critic (call 1), generator (call 2: extra used)
    moved = m.generator.extra.detach().clone()
    assert not torch.allclose(moved, torch.tensor([0.3, 0.3, 0.3]))
    m.training_step((REAL, torch.zeros(2)), 1)
    assert torch.equal(m.generator.extra.detach(), moved)
