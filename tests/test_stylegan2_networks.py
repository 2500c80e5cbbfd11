"""StyleGAN2's layers on known inputs: FIR resampling against scipy and its centring, modulated convolution
against per-sample demodulated weights, the mapping network's normalisation and w average, truncation with a
layer cutoff, the skip generator's sum of toRGB outputs, the residual discriminator's gains, the projection
conditioning, and the path length penalty's formula."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import signal

from gan_experiments.losses.path_length import PathLengthPenalty
from gan_experiments.networks.fir import (
    conv2d_down,
    conv2d_up,
    downsample2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)
from gan_experiments.networks.stylegan2 import (
    DiscriminatorBlock,
    MappingNetwork,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    modulated_conv2d,
    stylegan2_widths,
)

F4 = setup_filter()


def scipy_upfirdn_2d(x: np.ndarray, taps: np.ndarray, up: int, down: int) -> np.ndarray:
    """scipy's 1-D upfirdn (full convolution of the zero-stuffed signal) along both axes of [H, W]."""
    rows = np.stack([signal.upfirdn(taps, row, up, down) for row in x])
    return np.stack([signal.upfirdn(taps, col, up, down) for col in rows.T]).T


def test_the_filter_is_the_normalised_binomial():
    assert torch.allclose(F4, torch.tensor([1.0, 3, 3, 1])[:, None] * torch.tensor([1.0, 3, 3, 1]) / 64)


def test_upsample2d_is_scipys_upfirdn_centred_between_input_pixels():
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    ours = upsample2d(x, F4.double())[0, 0].numpy()
    full = scipy_upfirdn_2d(x[0, 0].numpy(), np.array([1.0, 3, 3, 1]) / 8 * 2, up=2, down=1)  # gain 2 per axis
    # full has 2H - 1 + 3 = 2H + 2 samples; the centred 2H start one in (input pixel i sits at 2i + 1/2)
    assert np.allclose(ours, full[1:13, 1:13])
    delta = torch.zeros(1, 1, 8, 8)
    delta[0, 0, 3, 3] = 1.0
    response = upsample2d(delta, F4)[0, 0, 6]  # the row through pixel 3's copies
    assert response.nonzero().flatten().tolist() == [5, 6, 7, 8]  # symmetric around 6.5 = 2 * 3 + 1/2
    assert torch.allclose(response[5:9] / response.sum(), torch.tensor([1.0, 3, 3, 1]) / 8)


def test_downsample2d_is_scipys_upfirdn_and_keeps_a_constant():
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    ours = downsample2d(x, F4.double())[0, 0].numpy()
    full = scipy_upfirdn_2d(x[0, 0].numpy(), np.array([1.0, 3, 3, 1]) / 8, up=1, down=1)
    # output j averages inputs 2j-1 .. 2j+2 (centred on 2j + 1/2): full-convolution index 2j + 2
    assert np.allclose(ours[1:-1, 1:-1], full[4:8:2, 4:8:2])
    constant = torch.full((1, 2, 8, 8), 0.7)
    assert torch.allclose(downsample2d(constant, F4)[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 0.7))
    assert torch.allclose(upsample2d(constant, F4)[..., 2:-2, 2:-2], torch.full((1, 2, 12, 12), 0.7))


def test_upfirdn2d_negative_padding_crops():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    identity = torch.ones(1, 1)
    assert torch.equal(upfirdn2d(x, identity, padding=(-1, -2, -1, 0)), x[..., 1:, 1:4])


def test_resampling_convolutions_equal_resample_then_convolve_inside_the_borders():
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64)
    up = conv2d_up(x, w, F4.double())
    assert up.shape == (2, 4, 16, 16)
    reference = F.conv2d(upsample2d(x, F4.double()), w, padding=1)
    assert torch.allclose(up[..., 3:-3, 3:-3], reference[..., 3:-3, 3:-3])
    down = conv2d_down(x, w, F4.double())
    assert down.shape == (2, 4, 4, 4)
    reference = downsample2d(F.conv2d(x, w, padding=1), F4.double())
    assert torch.allclose(down[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1])
    w1 = torch.randn(4, 3, 1, 1, dtype=torch.float64)
    assert torch.allclose(conv2d_down(x, w1, F4.double()), F.conv2d(downsample2d(x, F4.double()), w1))


def test_modulated_convolution_equals_per_sample_demodulated_weights():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    out = modulated_conv2d(x, weight, styles)
    for i in range(3):
        w1 = weight * styles[i].view(1, 4, 1, 1)                                         # w' = s_i w_ijk
        w2 = w1 / (w1.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()           # eq. 3
        assert torch.allclose(out[i], F.conv2d(x[i : i + 1], w2, padding=1)[0], atol=1e-5)
    plain = modulated_conv2d(x, weight, styles, demodulate=False)
    assert torch.allclose(plain[0], F.conv2d(x[:1], weight * styles[0].view(1, 4, 1, 1), padding=1)[0], atol=1e-5)


def test_fp16_prenormalisation_does_not_change_a_demodulated_result():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(2, 4, 6, 6), torch.randn(5, 4, 3, 3) * 30, torch.randn(2, 4) * 50
    reference = modulated_conv2d(x, weight, styles)
    with torch.autocast("cpu", dtype=torch.float16):
        half = modulated_conv2d(x, weight, styles)
    assert torch.allclose(half.float(), reference, atol=2e-2)


def test_mapping_normalises_z_and_tracks_w_average():
    mapping = MappingNetwork(8, 6, num_layers=2, w_avg_beta=0.9)
    z = torch.randn(4, 8)
    assert torch.allclose(mapping(z * 7.0), mapping(z), atol=1e-5)  # 2nd-moment normalisation: scale-free
    mapping.w_avg.zero_()
    w = mapping(z)
    assert torch.allclose(mapping.w_avg, 0.1 * w.mean(dim=0), atol=1e-6)  # w̄ <- 0.9 w̄ + 0.1 mean(w)
    mapping.eval()
    before = mapping.w_avg.clone()
    mapping(torch.randn(4, 8))
    assert torch.equal(mapping.w_avg, before)


def test_conditional_mapping_depends_on_the_label():
    mapping = MappingNetwork(8, 6, num_layers=2, num_classes=3)
    z = torch.randn(1, 8).repeat(3, 1)
    w = mapping(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(w[0], w[1]) and not torch.allclose(w[1], w[2])
    with pytest.raises(ValueError, match="labels"):
        mapping(z)


def tiny_generator(**kwargs) -> StyleGAN2Generator:
    return StyleGAN2Generator(latent_dim=16, w_dim=16, image_size=16, channels=3, mapping_layers=2,
                              channel_base=256, channel_max=32, **kwargs)


def test_generator_layout_and_num_ws():
    g = tiny_generator()
    assert stylegan2_widths(16, 256, 32) == {4: 32, 8: 32, 16: 16}
    assert g.num_ws == 1 + 2 + 2 + 1  # convolutions (1 at 4 px, 2 above) + the last toRGB
    assert g(torch.randn(2, 16)).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="power of two"):
        stylegan2_widths(24, 256, 32)


def test_truncation_with_a_cutoff_moves_only_the_first_layers():
    g = tiny_generator()
    g.mapping.w_avg.normal_()
    ws = g.styles(torch.randn(3, 16), update_w_avg=False)
    out = g.truncate(ws, 0.5, cutoff=2)
    assert torch.allclose(out[:, :2], g.w_avg + 0.5 * (ws[:, :2] - g.w_avg))
    assert torch.equal(out[:, 2:], ws[:, 2:])
    assert torch.allclose(g.truncate(ws, 0.0)[:, 4], g.w_avg.expand(3, -1))


def test_skip_generator_sums_upsampled_torgb_outputs():
    g = tiny_generator().eval()
    ws = g.styles(torch.randn(2, 16))
    noise = [torch.zeros(2, 1, r, r) for r in (4, 8, 8, 16, 16)]
    rgb = {}
    for block in g.synthesis.blocks:
        block.torgb.register_forward_hook(lambda m, i, o, r=block.resolution: rgb.__setitem__(r, o.float()))
    img = g.synthesize(ws, noise)
    expected = upsample2d(upsample2d(rgb[4], F4) + rgb[8], F4) + rgb[16]
    assert torch.allclose(img, expected, atol=1e-5)


def test_noise_enters_through_its_learned_strength():
    g = tiny_generator().eval()
    ws = g.styles(torch.randn(2, 16))
    noise_a = [torch.randn(2, 1, r, r) for r in (4, 8, 8, 16, 16)]
    noise_b = [torch.randn(2, 1, r, r) for r in (4, 8, 8, 16, 16)]
    assert torch.equal(g.synthesize(ws, noise_a), g.synthesize(ws, noise_b))  # strengths start at 0
    g.synthesis.blocks[2].conv1.noise_strength.data.fill_(0.5)
    assert not torch.allclose(g.synthesize(ws, noise_a), g.synthesize(ws, noise_b))


def test_residual_block_scales_both_branches_by_sqrt_half():
    torch.manual_seed(0)
    block = DiscriminatorBlock(8, 8, 16, 3, "resnet")
    x = torch.randn(2, 8, 8, 8)
    s = math.sqrt(0.5)
    expected = block.skip(x) * s + block.conv1(block.conv0(x)) * s  # lrelu(y) * g = lrelu(y * g) for g > 0
    assert torch.allclose(block(x), expected, atol=1e-5)
    orig = DiscriminatorBlock(8, 8, 16, 3, "orig")
    assert orig.skip is None and orig(x).shape == (2, 16, 4, 4)


def test_projection_discriminator_is_the_scaled_inner_product_with_the_class_map():
    torch.manual_seed(0)
    d = StyleGAN2Discriminator(image_size=8, channels=3, num_classes=4, channel_base=128, channel_max=16,
                               mbstd_group_size=2, conditioning="projection", cmap_dim=5, mapping_layers=1)
    x, labels = torch.randn(2, 3, 8, 8), torch.tensor([1, 3])
    out = d.out(d.features(x))                                                           # [N, M]
    cmap = d.mapping(None, labels)                                                       # [N, M]
    assert torch.allclose(d(x, labels), (out * cmap).sum(dim=1) / math.sqrt(5), atol=1e-5)
    with pytest.raises(ValueError, match="labels"):
        d(x)


def test_unconditional_discriminator_gives_one_logit_per_image():
    d = StyleGAN2Discriminator(image_size=16, channels=1, channel_base=256, channel_max=32)
    assert d(torch.randn(4, 1, 16, 16)).shape == (4,)
    with pytest.raises(ValueError, match="shape"):
        d(torch.randn(4, 3, 16, 16))


def test_path_length_penalty_on_a_linear_generator():
    """g(w) = sum_l A_l w_l: J_wᵀ y for layer l is A_lᵀ y, so the length is sqrt(mean_l ||A_lᵀ y||²) —
    computed here from A and the same y, independently of autograd."""
    torch.manual_seed(0)
    a = torch.randn(3, 2 * 4 * 4, 5)                                    # [L, C*H*W, W]
    ws = torch.randn(6, 3, 5, requires_grad=True)
    images = torch.einsum("lpw,nlw->np", a, ws).view(6, 2, 4, 4)
    penalty_fn = PathLengthPenalty(decay=0.25)
    penalty_fn.pl_mean.fill_(1.0)
    torch.manual_seed(7)
    penalty, lengths = penalty_fn(images, ws)
    torch.manual_seed(7)
    y = torch.randn(6, 2, 4, 4) / math.sqrt(16)
    per_layer = torch.einsum("lpw,np->nlw", a, y.flatten(1))            # A_lᵀ y  [N, L, W]
    expected = per_layer.square().sum(dim=2).mean(dim=1).sqrt()
    assert torch.allclose(lengths, expected, atol=1e-5)
    mean = 1.0 + 0.25 * (expected.mean() - 1.0)                         # a <- a + decay (mean - a)
    assert penalty_fn.pl_mean.item() == pytest.approx(mean.item(), rel=1e-5)
    assert torch.allclose(penalty, (expected - mean).square(), atol=1e-5)
