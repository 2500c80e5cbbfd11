"""Pix2Pix / CycleGAN parts against the reference: network shapes and sizes, U-Net skips, PatchGAN patches,
the image pool, the linear-decay schedule and every loss term on known inputs."""

import functools
import math

import pytest
import torch
from torch import nn

from gan_experiments.losses import BCELoss, GANLoss, LSGANLoss, WassersteinLoss
from gan_experiments.models import CycleGANModule, Pix2PixModule
from gan_experiments.models.inference import paper_test_mode
from gan_experiments.networks import PatchDiscriminator, ResnetGenerator, UnetGenerator
from gan_experiments.networks.unet import UnetBlock
from gan_experiments.training import ImagePool, LinearDecay


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_reference():
    """The totals junyanz/pytorch-CycleGAN-and-pix2pix prints for its default networks."""
    assert round(count(ResnetGenerator(n_blocks=9)) / 1e6, 3) == 11.378  # CycleGAN G_A / G_B
    assert round(count(PatchDiscriminator(3)) / 1e6, 3) == 2.765  # CycleGAN D_A / D_B (instance norm)
    assert round(count(UnetGenerator(num_downs=8, norm="batch")) / 1e6, 3) == 54.414  # pix2pix G
    assert round(count(PatchDiscriminator(6, norm="batch")) / 1e6, 3) == 2.769  # pix2pix D


@pytest.mark.parametrize("size", [32, 64, 96])
def test_resnet_generator_keeps_the_image_shape(size):
    g = ResnetGenerator(3, 3, base_channels=8, n_blocks=2)
    out = g(torch.randn(2, 3, size, size))
    assert out.shape == (2, 3, size, size) and out.abs().max() <= 1
    assert isinstance(g.net[0], nn.ReflectionPad2d) and isinstance(g.net[-1], nn.Tanh)
    with pytest.raises(ValueError, match="divisible by 4"):
        g(torch.randn(1, 3, 30, 30))


def test_resnet_blocks_follow_the_image_size():
    def blocks(size):
        return sum(type(m).__name__ == "ResidualBlock" for m in ResnetGenerator(n_blocks=None, image_size=size).modules())

    assert (blocks(256), blocks(128), blocks(64)) == (9, 6, 6)


@pytest.mark.parametrize(("size", "levels"), [(32, 5), (64, 6), (128, 7)])
def test_unet_is_sized_by_the_image(size, levels):
    g = UnetGenerator(3, 2, image_size=size, base_channels=4)
    assert g.num_downs == levels
    assert g(torch.randn(2, 3, size, size)).shape == (2, 2, size, size)
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == levels - 5
    with pytest.raises(ValueError, match="power of two"):
        UnetGenerator(image_size=48)


def test_unet_skips_concatenate_encoder_to_decoder_of_the_same_resolution():
    g = UnetGenerator(3, 3, num_downs=6, base_channels=4).eval()
    inputs, outputs = [], []
    for block in g.modules():
        if isinstance(block, UnetBlock) and not block.outermost:
            block.register_forward_pre_hook(lambda m, inp: inputs.append(inp[0].clone()))
            block.register_forward_hook(lambda m, inp, out: outputs.append(out.clone()))
    g(torch.randn(1, 3, 64, 64))
    assert len(inputs) == 5  # every level below the outermost
    for inp, out in zip(reversed(inputs), outputs, strict=True):  # pre-hooks run outermost first
        c = inp.shape[1]
        assert out.shape[1] == 2 * c and out.shape[2:] == inp.shape[2:]
        # the skip carries the encoder activation (LeakyReLU applied in place, as in the reference)
        assert torch.allclose(out[:, :c], torch.nn.functional.leaky_relu(inp, 0.2))
    assert [out.shape[2] for out in outputs] == [2, 4, 8, 16, 32]  # innermost first


def test_patchgan_gives_30x30_logits_for_256px_and_70px_patches():
    d = PatchDiscriminator(3, base_channels=8)
    assert d(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert d.receptive_field() == 70
    assert PatchDiscriminator(3, n_layers=1).receptive_field() == 16
    assert PatchDiscriminator(3, n_layers=5).receptive_field() == 286
    assert d(torch.randn(2, 3, 64, 64)).shape == (2, 1, 6, 6)


def test_instance_norm_is_not_affine_and_init_is_normal_002():
    g = ResnetGenerator(base_channels=16, n_blocks=1)
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    conv = g.net[1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002 and conv.bias.abs().max() == 0


def test_image_pool_fills_then_swaps_half_of_the_time():
    torch.manual_seed(0)
    pool = ImagePool(50)
    first = torch.arange(50.0).view(50, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and pool.count == 50  # filling: returned as given
    stored = set(range(50))
    from_pool = 0
    for step in range(40):
        new = torch.full((10, 1, 1, 1), 1000.0 + step)
        out = pool.query(new).flatten().tolist()
        from_pool += sum(v != 1000.0 + step for v in out)
        assert all(v == 1000.0 + step or v in stored for v in out)  # old images come only from the pool
        stored = set(pool.images.flatten().tolist())
    assert 0.4 < from_pool / 400 < 0.6  # p = 1/2 per image (binomial sd 0.025)
    assert torch.equal(ImagePool(0).query(first), first)


def test_image_pool_state_round_trips():
    pool = ImagePool(4)
    pool.query(torch.randn(3, 2, 4, 4))
    clone = ImagePool(4)
    clone.load_state_dict(pool.state_dict())
    assert clone.count == 3 and torch.equal(clone.images[:3], pool.images[:3])
    with pytest.raises(ValueError, match="holds 4 images"):
        ImagePool(5).load_state_dict(pool.state_dict())


def reference_rates(n_epochs: int, n_epochs_decay: int) -> list[float]:
    """The learning-rate multiplier of every epoch in junyanz's loop: ``lr_l = 1 - max(0, epoch + epoch_count -
    n_epochs) / (n_epochs_decay + 1)`` in a LambdaLR (epoch_count = 1), ``model.update_learning_rate()`` at
    the start of each epoch of ``range(epoch_count, n_epochs + n_epochs_decay + 1)``."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    rule = lambda epoch: 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, rule)
    rates = []
    for _ in range(1, n_epochs + n_epochs_decay + 1):
        opt.step()
        scheduler.step()  # update_learning_rate() at the beginning of the epoch
        rates.append(opt.param_groups[0]["lr"])
    return rates


@pytest.mark.parametrize(("n_epochs", "n_epochs_decay"), [(100, 100), (3, 4), (0, 3), (5, 0)])
def test_linear_decay_gives_every_epoch_the_reference_rate(n_epochs, n_epochs_decay):
    """Ours steps at the end of every epoch (Lightning's interval=epoch); each epoch must train at the rate
    the reference loop gives it (100 + 100: 1 through epoch 99, 100/101 in epoch 100, 0 in epoch 200)."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, LinearDecay(n_epochs, n_epochs_decay))
    ours = []
    for _ in range(n_epochs + n_epochs_decay):
        ours.append(opt.param_groups[0]["lr"])  # the rate this epoch trains at
        opt.step()
        scheduler.step()
    expected = reference_rates(n_epochs, n_epochs_decay)
    assert ours == pytest.approx(expected, abs=1e-12)
    if (n_epochs, n_epochs_decay) == (100, 100):
        assert ours[98] == 1.0 and ours[99] == pytest.approx(100 / 101) and ours[199] == 0.0


class Constant(nn.Module):
    """A discriminator returning the logit map ``value`` and recording its inputs."""

    def __init__(self, value: float = 0.0):
        super().__init__()
        self.value, self.inputs, self.w = value, [], nn.Parameter(torch.zeros(()))

    def forward(self, x):
        self.inputs.append(x.detach())
        return torch.full((x.shape[0], 1, 2, 2), self.value) + 0 * self.w


class Negate(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return -x * self.w


def adam(params):
    return torch.optim.Adam(params)


def test_cyclegan_loss_terms_on_known_inputs():
    """G = F = negation: cycles are exact, identity costs |-a - a| = 2|a|; D outputs 0 everywhere."""
    m = CycleGANModule(Negate(), Negate(), Constant(0.0), Constant(0.0), LSGANLoss(), adam, adam,
                       lambda_cycle=10.0, lambda_identity=0.5)
    a, b = torch.full((2, 3, 4, 4), 0.5), torch.full((2, 3, 4, 4), -0.25)
    t = m.generator_loss(a, b)
    assert t["g_adv_ab"] == 1.0 and t["g_adv_ba"] == 1.0  # (0 - 1)^2
    assert t["cycle_a"] == 0.0 and t["cycle_b"] == 0.0
    assert t["idt_a"] == 1.0 and t["idt_b"] == 0.5
    assert math.isclose(t["g_loss"].item(), 2 + 10 * 0.5 * 1.5)
    assert torch.equal(t["fake_b"], -a) and torch.equal(t["fake_a"], -b)
    d = m.discriminator_loss(a, b, t["fake_a"], t["fake_b"])
    assert d["d_a"] == 0.5 and d["d_b"] == 0.5 and d["d_loss"] == 1.0  # 0.5 * ((0 - 1)^2 + 0^2)
    # D_B (the reference's netD_A) judges B images: real b, then the fake G(a)
    assert torch.equal(m.discriminator_b.inputs[-2], b) and torch.equal(m.discriminator_b.inputs[-1], -a)
    no_identity = CycleGANModule(Negate(), Negate(), Constant(), Constant(), LSGANLoss(), adam, adam,
                                 lambda_identity=0.0).generator_loss(a, b)
    assert "idt_a" not in no_identity and no_identity["g_loss"] == 2.0


def test_pix2pix_loss_terms_on_known_inputs():
    """G = identity, y = x + 0.1, D outputs 0: L1 = 0.1, BCE terms log 2; D sees cat(x, y) and cat(x, G(x))."""
    d = Constant(0.0)
    m = Pix2PixModule(nn.Identity(), d, BCELoss(), adam, adam, lambda_l1=100.0)
    x = torch.rand(2, 3, 4, 4)
    y = x + 0.1
    g = m.generator_loss(x, y, x)
    assert math.isclose(g["l1"].item(), 0.1, rel_tol=1e-5) and math.isclose(g["g_adv"].item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(g["g_loss"].item(), math.log(2) + 10.0, rel_tol=1e-5)
    terms = m.discriminator_loss(x, y, x)
    assert math.isclose(terms["d_loss"].item(), math.log(2), rel_tol=1e-6)  # 0.5 * (log 2 + log 2)
    assert torch.equal(d.inputs[-2], torch.cat([x, y], 1)) and torch.equal(d.inputs[-1], torch.cat([x, x], 1))


def test_translation_models_take_a_criterion_not_a_loss_and_refuse_a_wasserstein_critic():
    nets = (Negate(), Negate(), Constant(), Constant())
    with pytest.raises(ValueError, match="without gradient penalties"):
        CycleGANModule(*nets, WassersteinLoss(), adam, adam)
    with pytest.raises(TypeError, match=r"takes criterion= .*not loss="):
        CycleGANModule(*nets, criterion=LSGANLoss(), loss=GANLoss(LSGANLoss()), optimizer_g=adam, optimizer_d=adam)
    with pytest.raises(TypeError, match=r"takes criterion= .*not loss="):  # the old positional call
        Pix2PixModule(nn.Identity(), Constant(), GANLoss(BCELoss()), adam, adam)
    with pytest.raises(TypeError, match="unexpected keyword arguments: lamda_l1"):
        Pix2PixModule(nn.Identity(), Constant(), BCELoss(), adam, adam, lamda_l1=1.0)
    with pytest.raises(TypeError, match="must be a gan_experiments.losses.AdversarialLoss"):
        Pix2PixModule(nn.Identity(), Constant(), nn.MSELoss(), adam, adam)
    m = CycleGANModule(Negate(), Negate(), Constant(), Constant(), LSGANLoss(), adam, adam)
    with pytest.raises(ValueError, match="translates a2b, b2a"):
        m.translate(torch.zeros(1, 3, 4, 4), "x2y")


def small_pix2pix(test_mode: str) -> Pix2PixModule:
    torch.manual_seed(0)
    generator = UnetGenerator(3, 3, num_downs=6, base_channels=8, norm="batch", dropout=0.5)  # dropout in 1 block
    assert any(isinstance(m, nn.Dropout) for m in generator.modules())
    adam = functools.partial(torch.optim.Adam, lr=2e-4)
    module = Pix2PixModule(generator, PatchDiscriminator(6, base_channels=8, n_layers=2), BCELoss(), adam, adam,
                           test_mode=test_mode)
    with torch.no_grad():  # running statistics far from any single image's, so the protocols differ visibly
        for m in module.generator.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.fill_(0.5)
                m.running_var.fill_(4.0)
    return module.eval()


def test_pix2pix_translates_by_the_papers_test_protocol():
    """Isola et al. sec. 3.3 / junyanz test.py without --eval: the generator in training mode (dropout on,
    batch norm with the statistics of the batch), one image per batch. Expected: a copy of the generator
    in training mode fed each image alone (dropout switched off in both, so the masks do not matter)."""
    import copy

    module, images = small_pix2pix("paper"), torch.randn(3, 3, 64, 64)
    module.generator.apply(lambda m: setattr(m, "p", 0.0) if isinstance(m, nn.Dropout) else None)
    reference = copy.deepcopy(module.generator).train()
    with torch.no_grad():
        expected = torch.cat([reference(image[None]) for image in images])
    running = {k: v.clone() for k, v in module.generator.state_dict().items()}
    assert torch.allclose(module.translate(images), expected, atol=1e-5)
    assert all(torch.equal(v, module.generator.state_dict()[k]) for k, v in running.items())  # stats untouched
    assert not module.generator.training  # the module's own mode is restored


def test_the_papers_test_mode_keeps_dropout_on_seeded_apart_from_the_callers_stream():
    module, images = small_pix2pix("paper"), torch.randn(3, 3, 64, 64)
    torch.manual_seed(123)
    outputs = module.translate(images)
    after = torch.rand(1)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(1))  # the caller's random stream did not advance
    assert torch.equal(module.translate(images), outputs)  # the same input, the same output
    with paper_test_mode(module.generator, seed=1) as generator, torch.no_grad():
        other_masks = generator(images)
    assert (other_masks - outputs).abs().mean() > 1e-3  # dropout is on: other masks, other outputs


def test_pix2pix_eval_test_mode_uses_running_statistics_without_dropout():
    module, images = small_pix2pix("eval"), torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        expected = module.generator.eval()(images)
    assert torch.allclose(module.translate(images), expected, atol=1e-6)
    paper = small_pix2pix("paper").translate(images)
    assert (paper - expected).abs().mean() > 0.05  # the two protocols are not the same numbers
    with pytest.raises(ValueError, match="test_mode must be one of paper, eval"):
        module.set_test_mode("train")
