"""ADA (Karras et al. 2020) against formulas written out here from NVlabs/stylegan2-ada-pytorch
``training/augment.py`` and ``training/training_loop.py``: each transformation forced on (p = 1) and
reproduced from the same documented random draws (same seed; per enabled transformation its value, then
its gate u ~ U(0, 1), float32), resampling checked on analytic images, and the controller's p trajectory
computed independently."""

from __future__ import annotations

import datetime
import io
import math
import socket

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_experiments.training import AdaptiveAugment, AugmentPipe
from gan_experiments.training.ada import SYM6, blit, rotate2d, scale2d, translate2d, warp


def _x(n=8, c=3, h=16, w=16, dtype=torch.float64, seed=5):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _run(pipe, x, seed):
    torch.manual_seed(seed)
    return pipe(x)


def _draws(n: int, seed: int, *kinds: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The documented stream from ``seed``: per enabled transformation its value (``kind``: 'u' uniform or
    'n' normal, [n]; 'u2'/'n2': [n, 2]; float32, returned as float64) then its gate u ~ U(0, 1) [n]."""
    torch.manual_seed(seed)
    out = []
    for kind in kinds:
        shape = (n, 2) if kind.endswith("2") else (n,)
        value = (torch.rand if kind.startswith("u") else torch.randn)(shape).double()
        out.append((value, torch.rand(n)))
    return out


def _reflect_shift(images: np.ndarray, sx: int, sy: int) -> np.ndarray:
    """out[:, y, x] = images[:, y - sy, x - sx], numpy 'reflect' padding (mirror without the edge)."""
    pad = max(abs(sx), abs(sy))
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    _, h, w = images.shape
    return padded[:, pad - sy:pad - sy + h, pad - sx:pad - sx + w]


# --- pixel blitting: exact copies ----------------------------------------------------------------


def test_xflip_is_torch_flip_of_the_drawn_samples():
    x = _x(n=32)
    out = _run(AugmentPipe(p=1.0, xflip=1), x, seed=1)
    [(u, _)] = _draws(32, 1, "u")
    flipped = torch.floor(u * 2) == 1
    assert 0 < int(flipped.sum()) < 32
    assert torch.equal(out, torch.where(flipped[:, None, None, None], x.flip(3), x))


def test_rotate90_is_torch_rot90_by_the_drawn_quarter_turns():
    x = _x(n=32)
    out = _run(AugmentPipe(p=1.0, rotate90=1), x, seed=2)
    [(u, _)] = _draws(32, 2, "u")
    k = torch.floor(u * 4).long()
    assert set(k.tolist()) == {0, 1, 2, 3}
    assert torch.equal(out, torch.stack([torch.rot90(x[j], int(k[j]), dims=(1, 2)) for j in range(32)]))


def test_integer_translation_is_a_reflect_padded_shift_everywhere():
    x = _x(n=32)
    out = _run(AugmentPipe(p=1.0, xint=1), x, seed=3)
    [(u, _)] = _draws(32, 3, "u2")
    t = (u * 2 - 1) * 0.125  # xint_max: a shift of at most W/8 = 2 pixels
    sx, sy = torch.round(t[:, 0] * 16).long(), torch.round(t[:, 1] * 16).long()
    assert {-2, 2} <= set(sx.tolist()) and {-2, 2} <= set(sy.tolist())
    expected = np.stack([_reflect_shift(x[j].numpy(), int(sx[j]), int(sy[j])) for j in range(32)])
    assert np.array_equal(out.numpy(), expected)  # content moves by +t, NVlabs' translate2d_inv(t) in G^-1


def test_blits_compose_flip_then_quarter_turn_then_shift():
    x = _x(n=24)
    out = _run(AugmentPipe(p=1.0, preset="blit"), x, seed=4)
    (ui, _), (uk, _), (ut, _) = _draws(24, 4, "u", "u", "u2")
    i, k, t = torch.floor(ui * 2), torch.floor(uk * 4).long(), (ut * 2 - 1) * 0.125
    sx, sy = torch.round(t[:, 0] * 16).long(), torch.round(t[:, 1] * 16).long()
    for j in range(24):
        image = x[j].flip(2) if i[j] else x[j]
        image = torch.rot90(image, int(k[j]), dims=(1, 2)).numpy()
        assert np.array_equal(out[j].numpy(), _reflect_shift(image, int(sx[j]), int(sy[j])))


# --- general geometry: NVlabs' resampling ----------------------------------------------------------


def test_sym6_is_an_orthogonal_lowpass():
    h = np.array(SYM6)
    assert math.isclose(h.sum(), math.sqrt(2), rel_tol=1e-12) and math.isclose((h ** 2).sum(), 1, rel_tol=1e-11)
    assert all(abs(np.dot(h[:-2 * k], h[2 * k:])) < 1e-11 for k in range(1, 6))


def test_resampling_an_integer_shift_reconstructs_exactly():
    """down(shift_2(up(x))) = shift_1(x) for an orthogonal filter with matched alignment: the up/down
    filters, their padding and NVlabs' half-pixel alignment all have to be right."""
    x = _x(n=2, h=12, w=12)
    out = warp(x, translate2d(-1.0, -2.0, x).expand(2, 3, 3))
    expected = np.stack([_reflect_shift(image.numpy(), 1, 2) for image in x])
    assert np.abs(out.numpy() - expected).max() < 1e-9


def _analytic(h, w):
    """A smooth image f(x, y) on centred pixel coordinates, [1, 1, h, w], and f itself."""
    ys, xs = torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2
    gy, gx = torch.meshgrid(ys.double(), xs.double(), indexing="ij")

    def f(x, y):
        return torch.cos(0.3 * x + 0.2 * y) + 0.5 * torch.sin(0.25 * y - 0.1 * x)
    return f(gx, gy)[None, None], f, gx, gy


def test_warp_reads_each_output_pixel_at_g_inv_u():
    image, f, gx, gy = _analytic(48, 48)
    like = torch.zeros(1, dtype=torch.float64)
    g = rotate2d(torch.tensor([0.5], dtype=torch.float64)) @ scale2d(0.8, 1.25, like) @ translate2d(1.3, -0.7, like)
    out = warp(image, g)[0, 0]
    ux = g[0, 0, 0] * gx + g[0, 0, 1] * gy + g[0, 0, 2]
    uy = g[0, 1, 0] * gx + g[0, 1, 1] * gy + g[0, 1, 2]
    inside = (ux.abs() < 18) & (uy.abs() < 18)  # reads well inside the image, not the reflected border
    assert int(inside.sum()) > 1000
    assert (out - f(ux, uy))[inside].abs().max() < 0.02  # a wrong sign or centre gives errors of order 1


def test_oversampling_beats_plain_bilinear_on_a_subpixel_shift():
    h = w = 48
    gx = (torch.arange(w, dtype=torch.float64) - (w - 1) / 2).expand(h, w)
    image = torch.cos(2 * math.pi * gx / 6)[None, None]  # period 6 pixels
    expected = torch.cos(2 * math.pi * (gx - 0.25) / 6)
    out = warp(image, translate2d(-0.25, 0.0, image[:, 0, 0, 0]))
    theta = torch.tensor([[[1.0, 0.0, -0.5 / w], [0.0, 1.0, 0.0]]], dtype=torch.float64)
    bilinear = F.grid_sample(image, F.affine_grid(theta, [1, 1, h, w], align_corners=False), align_corners=False)
    err_warp = (out[0, 0] - expected)[8:-8, 8:-8].abs().max()
    err_bilinear = (bilinear[0, 0] - expected)[8:-8, 8:-8].abs().max()
    assert err_warp < 0.5 * err_bilinear


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constant_images_stay_constant_under_any_geometry(seed):
    """Reflect padding as wide as the transformed corners reach, filters of unit DC gain. Not to rounding:
    NVlabs' margin (corners + 2·Hz_pad, at most side - 1) leaves the outermost filter taps of strongly
    zoomed-out or turned samples reading grid_sample's zeros, weighted ~1e-3 at most."""
    x = torch.full((16, 3, 32, 32), 0.7, dtype=torch.float64)
    out = _run(AugmentPipe(p=1.0, preset="bg"), x, seed=seed)
    assert (out - 0.7).abs().max() < 2e-3


def _geometry_draws(n, h, w, seed):
    """G^-1 = B · A from the documented draws, composed here in numpy."""
    values = [v.numpy() for v, _ in _draws(n, seed, "u", "u", "u2", "n", "u", "n", "u", "n2")]
    i, k = np.floor(values[0] * 2), np.floor(values[1] * 4)
    t, s = (values[2] * 2 - 1) * 0.125, np.exp2(values[3] * 0.2)
    th1, a, th2 = (values[4] * 2 - 1) * math.pi, np.exp2(values[5] * 0.2), (values[6] * 2 - 1) * math.pi
    tf = values[7] * 0.125

    def rot(phi):
        return np.array([[np.cos(phi), -np.sin(phi), 0], [np.sin(phi), np.cos(phi), 0], [0, 0, 1]])

    def sc(sx, sy):
        return np.diag([sx, sy, 1.0])

    def tr(tx, ty):
        return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]])
    b = [sc(1 - 2 * i[j], 1) @ rot(np.pi / 2 * k[j]) @ tr(-np.round(t[j, 0] * w), -np.round(t[j, 1] * h))
         for j in range(n)]
    a_ = [sc(1 / s[j], 1 / s[j]) @ rot(th1[j]) @ sc(1 / a[j], a[j]) @ rot(th2[j]) @ tr(-tf[j, 0] * w, -tf[j, 1] * h)
          for j in range(n)]
    return np.stack(b), np.stack(a_)


def test_geometry_matrices_compose_in_nvlabs_order():
    torch.manual_seed(7)
    b, a = AugmentPipe(p=1.0, preset="bg").geometry_matrices(6, 16, 20, torch.device("cpu"), torch.float64)
    b_ref, a_ref = _geometry_draws(6, 16, 20, seed=7)
    assert np.allclose(b.numpy(), b_ref, rtol=0, atol=1e-12) and np.allclose(a.numpy(), a_ref, rtol=0, atol=1e-12)


def test_forward_blits_then_resamples_square_images_and_folds_otherwise():
    x = _x(n=6)
    torch.manual_seed(8)
    b, a = AugmentPipe(p=1.0, preset="bg").geometry_matrices(6, 16, 16, torch.device("cpu"), torch.float64)
    assert torch.equal(_run(AugmentPipe(p=1.0, preset="bg"), x, seed=8), warp(blit(x, b), a))
    assert torch.equal(_run(AugmentPipe(p=1.0, preset="bg", exact_blit=False), x, seed=8), warp(x, b @ a))
    wide = _x(n=6, h=12, w=16)
    torch.manual_seed(8)
    b, a = AugmentPipe(p=1.0, preset="bg").geometry_matrices(6, 12, 16, torch.device("cpu"), torch.float64)
    assert torch.allclose(_run(AugmentPipe(p=1.0, preset="bg"), wide, seed=8), warp(wide, b @ a), atol=1e-12)


def test_rotation_is_applied_with_probability_p_over_two_chances():
    """Pre- and post-rotation each with 1 - sqrt(1 - p): some rotation with probability p."""
    n, p = 2000, 0.3
    x = _x(n=n, c=1, h=8, w=8, seed=9)
    out = _run(AugmentPipe(p=p, rotate=1), x, seed=9)
    touched = (out != x).flatten(1).any(dim=1).double().mean().item()
    assert abs(touched - p) < 4 * math.sqrt(p * (1 - p) / n)


# --- colour: per-sample 4x4 matrices ---------------------------------------------------------------


def _luma(x):
    return x.mean(dim=1, keepdim=True)  # (c · v) v = mean over RGB, per pixel


def test_brightness_adds_b_to_the_gated_samples():
    x = _x(n=32)
    out = _run(AugmentPipe(p=0.5, brightness=1), x, seed=10)
    [(normal, u)] = _draws(32, 10, "n")
    b, on = normal * 0.2, u < 0.5  # float32 draws, arithmetic in the image's dtype
    assert 0 < int(on.sum()) < 32
    assert torch.allclose(out, x + torch.where(on, b, 0)[:, None, None, None], rtol=0, atol=1e-12)


def test_contrast_scales_about_zero_not_a_mean():
    x = _x(n=16) + 0.5
    out = _run(AugmentPipe(p=1.0, contrast=1), x, seed=11)
    [(normal, _)] = _draws(16, 11, "n")
    c = torch.exp2(normal * 0.5)
    assert torch.allclose(out, x * c[:, None, None, None], rtol=0, atol=1e-12)


def test_luma_flip_reflects_about_the_plane_normal_to_v():
    x = _x(n=32)
    out = _run(AugmentPipe(p=1.0, lumaflip=1), x, seed=12)
    [(u, _)] = _draws(32, 12, "u")
    i = torch.floor(u * 2)
    assert 0 < int(i.sum()) < 32
    expected = x - 2 * _luma(x) * i[:, None, None, None]  # c - 2 (c·v) v
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)


def _rodrigues(x, theta):
    """Rotate every pixel's RGB vector by theta [N] about v = (1, 1, 1)/sqrt(3) (right-handed)."""
    v = np.ones(3) / math.sqrt(3)
    rgb = np.moveaxis(x.numpy(), 1, -1)  # [N, H, W, 3]
    t = theta.numpy()[:, None, None, None]
    out = rgb * np.cos(t) + np.cross(v, rgb) * np.sin(t) + v * (rgb @ v)[..., None] * (1 - np.cos(t))
    return np.moveaxis(out, -1, 1)


def test_hue_rotates_chroma_about_the_luma_axis():
    x = _x(n=16)
    out = _run(AugmentPipe(p=1.0, hue=1), x, seed=13)
    [(u, _)] = _draws(16, 13, "u")
    theta = (u * 2 - 1) * math.pi
    assert np.allclose(out.numpy(), _rodrigues(x, theta), rtol=0, atol=1e-12)
    assert torch.allclose(_luma(out), _luma(x), atol=1e-12)  # luma kept, chroma length kept
    assert torch.allclose((out - _luma(out)).norm(dim=1), (x - _luma(x)).norm(dim=1), atol=1e-12)


def test_saturation_lerps_around_the_pixel_luma():
    x = _x(n=16)
    out = _run(AugmentPipe(p=1.0, saturation=1), x, seed=14)
    [(normal, _)] = _draws(16, 14, "n")
    s = torch.exp2(normal * 1.0)[:, None, None, None]
    assert torch.allclose(out, _luma(x) + s * (x - _luma(x)), rtol=0, atol=1e-12)


def test_colour_transforms_apply_brightness_contrast_lumaflip_hue_saturation_in_that_order():
    x = _x(n=16)
    out = _run(AugmentPipe(p=1.0, preset="color"), x, seed=15)
    b, c, i, theta, s = (v for v, _ in _draws(16, 15, "n", "n", "u", "u", "n"))
    b, c, i, theta, s = b * 0.2, torch.exp2(c * 0.5), torch.floor(i * 2), (theta * 2 - 1) * math.pi, torch.exp2(s)

    def per(t):
        return t[:, None, None, None]
    y = (x + per(b)) * per(c)
    y = y - 2 * _luma(y) * per(i)
    y = torch.from_numpy(_rodrigues(y, theta))
    y = _luma(y) + per(s) * (y - _luma(y))
    assert torch.allclose(out, y, rtol=0, atol=1e-12)


def test_one_channel_gets_brightness_contrast_and_luma_flip_only():
    """NVlabs' grayscale path: y -> (1 - 2i) c (y + b); hue and saturation draw nothing."""
    x = _x(n=32, c=1)
    out = _run(AugmentPipe(p=1.0, preset="color"), x, seed=16)
    after = torch.rand(1)
    b, c, i = (v for v, _ in _draws(32, 16, "n", "n", "u"))
    b, c, i = b * 0.2, torch.exp2(c * 0.5), torch.floor(i * 2)
    expected = ((1 - 2 * i) * c)[:, None, None, None] * (x + b[:, None, None, None])
    assert torch.allclose(out, expected, rtol=0, atol=1e-12) and 0 < int(i.sum()) < 32
    assert torch.equal(after, torch.rand(1))  # the same generator state: six draws of 32, no more


def test_brightness_touches_a_fraction_multiplier_times_p_of_the_samples():
    n = 4000
    x = _x(n=n, c=1, h=2, w=2, seed=17)
    out = _run(AugmentPipe(p=0.6, brightness=0.5), x, seed=17)
    touched = (out != x).flatten(1).any(dim=1).double().mean().item()
    assert abs(touched - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n)


# --- the whole pipe ----------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1, 3])
def test_p_zero_is_exactly_the_identity(c):
    x = _x(c=c, dtype=torch.float32)
    assert torch.equal(_run(AugmentPipe(preset="bgc", p=0.0), x, seed=18), x)


def test_p_one_changes_every_sample():
    x = _x(n=64, dtype=torch.float32)
    out = _run(AugmentPipe(preset="bgc", p=1.0), x, seed=19)
    assert bool(((out - x).flatten(1).abs().amax(dim=1) > 1e-3).all())


def test_presets_enable_their_groups_and_multipliers_override_them():
    assert all(v == 1 for v in AugmentPipe(preset="bgc").multiplier.values())
    assert {k for k, v in AugmentPipe(preset="bg").multiplier.items() if v} == {
        "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac"}
    assert AugmentPipe(preset="b").multiplier == AugmentPipe(preset="blit").multiplier
    override = AugmentPipe(preset="bgc", xflip=0, hue=0.5).multiplier
    assert override["xflip"] == 0 and override["hue"] == 0.5 and override["rotate"] == 1
    assert not any(AugmentPipe().multiplier.values())


def test_gradients_flow_to_the_input_once_and_twice():
    x = _x(n=2, h=8, w=8).requires_grad_(True)
    pipe = AugmentPipe(preset="bgc", p=1.0)
    assert torch.autograd.gradcheck(lambda images: _run(pipe, images, seed=20), (x,), fast_mode=True)
    # R1 on augmented reals: |d D(T(x)) / dx|^2 must reach D's weights
    weight = torch.randn(1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    logits = F.conv2d(_run(pipe, x, seed=21), weight).sum()
    (grad,) = torch.autograd.grad(logits, x, create_graph=True)
    grad.square().sum().backward()
    assert torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0
    assert bool((grad.flatten(1).abs().sum(dim=1) > 0).all())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_input_keeps_its_dtype_and_is_computed_in_float32(dtype):
    x = _x(dtype=dtype)
    pipe = AugmentPipe(preset="bgc", p=0.8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _run(pipe, x, seed=22)
        out32 = _run(pipe, x.float(), seed=22)
    assert out.dtype == dtype and out32.dtype == torch.float32
    assert torch.equal(out, out32.to(dtype))
    assert torch.equal(out32, _run(pipe, x.float(), seed=22))  # autocast does not reach inside


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"preset": "bgcx"}, "preset"), ({"p": 1.5}, "p"), ({"p": -0.1}, "p"), ({"xflip": -1.0}, "xflip"),
    ({"scale_std": -0.2}, "scale_std"), ({"xint_max": 0.6}, "xint_max"),
])
def test_bad_pipe_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        AugmentPipe(**kwargs)


@pytest.mark.parametrize("images", [torch.zeros(3, 8, 8), torch.zeros(2, 2, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8)])
def test_bad_images_are_refused(images):
    with pytest.raises(ValueError, match="^images "):
        AugmentPipe(preset="bgc", p=1.0)(images)


# --- the controller --------------------------------------------------------------------------------


def _logits(positive: int, zero: int, negative: int) -> torch.Tensor:
    return torch.tensor([1.5] * positive + [0.0] * zero + [-2.0] * negative)


def test_p_follows_the_ada_formula_without_a_cap_at_one():
    target, interval, kimg, batch = 0.6, 4, 0.1, 10
    # r_t per interval of 4 minibatches of 10 logits: 1, 1, 1, 1, 0.6 exactly, 0.5 (zeros count), -1 x 6, 1
    plan = [(10, 0, 0)] * 4 + [(8, 0, 2), (5, 5, 0)] + [(0, 0, 10)] * 6 + [(10, 0, 0)]
    pipe, ada = AugmentPipe(preset="bgc", p=0.0), AdaptiveAugment(target=target, interval=interval, kimg=kimg)
    p, got, expected = np.float32(0.0), [], []
    for pos, zero, neg in plan:
        for minibatch in range(interval):
            ada.accumulate(_logits(pos, zero, neg))
            rt = ada.step(pipe, batch)
            assert (rt is None) == (minibatch < interval - 1)
        r = (pos - neg) / (pos + zero + neg)
        p = np.float32(max(0.0, float(p) + np.sign(r - target) * batch * interval / (kimg * 1000)))
        got.append((rt, float(pipe.p)))
        expected.append((r, float(p)))
    assert got == expected
    ps = [q for _, q in expected]
    assert max(ps) > 1.5 and ps[4] == ps[3] and ps.count(0.0) >= 2  # above 1, still at r_t = target, floored


def test_fixed_mode_never_moves_p_but_reports_rt():
    pipe, ada = AugmentPipe(preset="bgc", p=0.3), AdaptiveAugment(target=None, interval=2)
    reported = []
    for step in range(12):
        ada.accumulate(_logits(step % 3, 1, 2))
        reported.append(ada.step(pipe, 4))
    assert float(pipe.p) == float(np.float32(0.3)) and reported[1] == (-2 - 1) / (3 + 4)  # steps 0 and 1
    assert reported[0] is None and ada.rt == reported[-1]


def _feed(ada, pipe, start, count):
    trajectory = []
    for step in range(start, start + count):
        ada.accumulate(_logits((3 * step) % 9, step % 2, 8 - (3 * step) % 9))
        trajectory.append((ada.step(pipe, 9), float(pipe.p)))
    return trajectory


def test_state_dict_round_trip_resumes_exactly():
    pipe, ada = AugmentPipe(preset="bgc", p=0.2), AdaptiveAugment(target=0.6, interval=4, kimg=0.05)
    _feed(ada, pipe, 0, 6)  # stop mid-interval: two minibatches accumulated
    buffer = io.BytesIO()
    torch.save({"pipe": pipe.state_dict(), "ada": ada.state_dict()}, buffer)
    reference = _feed(ada, pipe, 6, 14)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    pipe2, ada2 = AugmentPipe(preset="bgc"), AdaptiveAugment(target=0.6, interval=4, kimg=0.05)
    pipe2.load_state_dict(state["pipe"])
    ada2.load_state_dict(state["ada"])
    assert _feed(ada2, pipe2, 6, 14) == reference
    assert "p" in state["pipe"] and not any("p" == key.split(".")[-1] for key in state["ada"])


def test_step_without_logits_and_bad_controller_arguments_are_refused():
    with pytest.raises(RuntimeError, match="accumulate"):
        ada = AdaptiveAugment(interval=1)
        ada.step(AugmentPipe(), 8)
    for kwargs, name in (({"target": 1.5}, "target"), ({"interval": 0}, "interval"), ({"kimg": 0}, "kimg")):
        with pytest.raises(ValueError, match=rf"^{name} "):
            AdaptiveAugment(**kwargs)
    with pytest.raises(ValueError, match="^d_real_logits "):
        AdaptiveAugment().accumulate(torch.zeros(0))
    with pytest.raises(ValueError, match="^batch_size "):
        AdaptiveAugment().step(AugmentPipe(), 0)


def _ddp_worker(rank: int, port: int, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                                         timeout=datetime.timedelta(seconds=60))
    try:
        pipe, ada = AugmentPipe(preset="bgc", p=0.5), AdaptiveAugment(target=0.6, interval=2, kimg=0.1)
        for _ in range(2):  # rank 0 alone: r_t = 1; rank 1 alone: r_t = 0.5 (would lower p); pooled: 0.75
            ada.accumulate(_logits(8, 0, 0) if rank == 0 else _logits(6, 0, 2))
            rt = ada.step(pipe, 8)
        torch.save((rt, float(pipe.p)), f"{out}/{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def test_ranks_pool_their_signs_and_images(tmp_path):
    """Two gloo processes (forked: no re-import, a second or two)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.start_processes(_ddp_worker, args=(port, str(tmp_path)), nprocs=2, start_method="fork")
    images = 2 * 2 * 8  # two ranks, two minibatches of eight
    expected = (0.75, float(np.float32(0.5 + images / 100)))
    assert [torch.load(tmp_path / f"{rank}.pt") for rank in (0, 1)] == [expected, expected]
