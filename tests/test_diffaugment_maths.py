"""DiffAugment's three policies against the reference formulas of Zhao et al.'s code (mit-han-lab
data-efficient-gans, DiffAugment_pytorch.py: rand_brightness, rand_saturation, rand_contrast, rand_translation,
rand_cutout), written out here with numpy from the same documented random draws (same seed, same order)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_experiments.training.diffaugment import DiffAugment, color, cutout, translation


def _x(n=4, c=3, h=8, w=8, dtype=torch.float64):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(5), dtype=dtype)


def test_color_is_brightness_then_saturation_then_contrast():
    x = _x()
    torch.manual_seed(11)
    got = color(x)
    torch.manual_seed(11)  # the same draws in the documented order: b ~ U(-.5, .5), s ~ U(0, 2), c ~ U(.5, 1.5)
    b = torch.empty(4, 1, 1, 1, dtype=torch.float64).uniform_(-0.5, 0.5).numpy()
    s = torch.empty(4, 1, 1, 1, dtype=torch.float64).uniform_(0.0, 2.0).numpy()
    c = torch.empty(4, 1, 1, 1, dtype=torch.float64).uniform_(0.5, 1.5).numpy()
    y = x.numpy() + b
    y = (y - y.mean(axis=1, keepdims=True)) * s + y.mean(axis=1, keepdims=True)
    y = (y - y.mean(axis=(1, 2, 3), keepdims=True)) * c + y.mean(axis=(1, 2, 3), keepdims=True)
    assert got.dtype == torch.float64
    assert np.allclose(got.numpy(), y, rtol=0, atol=1e-12)


def _shift(image, sy, sx):
    """out[:, y, x] = image[:, y - sy, x - sx], zero outside."""
    out = np.zeros_like(image)
    _, h, w = image.shape
    for y in range(h):
        for x in range(w):
            if 0 <= y - sy < h and 0 <= x - sx < w:
                out[:, y, x] = image[:, y - sy, x - sx]
    return out


@pytest.mark.parametrize("h, w", [(8, 8), (16, 8), (12, 20)])
def test_translation_shifts_whole_pixels_zero_filled(h, w):
    x = _x(n=6, h=h, w=w)
    torch.manual_seed(3)
    got = translation(x)
    torch.manual_seed(3)
    max_y, max_x = int(h / 8 + 0.5), int(w / 8 + 0.5)  # an eighth of the side, rounded
    sy = torch.randint(-max_y, max_y + 1, (6, 1, 1))
    sx = torch.randint(-max_x, max_x + 1, (6, 1, 1))
    expected = np.stack([_shift(x[i].numpy(), int(sy[i]), int(sx[i])) for i in range(6)])
    assert got.dtype == torch.float64 and np.array_equal(got.numpy(), expected)


def test_translation_draws_every_shift_in_range():
    torch.manual_seed(0)
    x = torch.zeros(400, 1, 16, 16)
    x[:, :, 8, 8] = 1  # one lit pixel: where it lands is the shift
    moved = translation(x)
    ys, xs = torch.nonzero(moved[:, 0], as_tuple=True)[1:]
    assert sorted(set((ys - 8).tolist())) == [-2, -1, 0, 1, 2] and sorted(set((xs - 8).tolist())) == [-2, -1, 0, 1, 2]


def _cutout_reference(x, seed, ratio=0.5):
    """rand_cutout: a size x size square (size = round(side * ratio)) with top-left offset - size // 2, offset
    drawn in [0, side + (1 - size % 2))."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    torch.manual_seed(seed)
    oy = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1)).numpy().ravel()
    ox = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1)).numpy().ravel()
    mask = np.ones((n, 1, h, w))
    for i in range(n):
        top, left = oy[i] - size_y // 2, ox[i] - size_x // 2
        mask[i, :, max(top, 0):max(top + size_y, 0), max(left, 0):max(left + size_x, 0)] = 0
    return x.numpy() * mask


@pytest.mark.parametrize("h, w", [(8, 8), (6, 10), (7, 9)])
def test_cutout_matches_the_reference_square(h, w):
    x = _x(n=8, h=h, w=w)
    torch.manual_seed(4)
    got = cutout(x)
    assert got.dtype == torch.float64 and np.array_equal(got.numpy(), _cutout_reference(x, 4))


def test_cutout_positions_cover_the_whole_range():
    torch.manual_seed(1)
    x = torch.ones(600, 1, 8, 8)
    cut = cutout(x)[:, 0] == 0
    rows = cut.any(dim=2)
    # a 4-pixel square with top in [-2, 6]: the first row it covers is 0 (cut at the top edge) ... 6
    first = [int(torch.nonzero(r)[0]) for r in rows]
    last = [int(torch.nonzero(r)[-1]) for r in rows]
    assert min(first) == 0 and max(first) == 6 and min(last) == 1 and max(last) == 7
    heights = rows.sum(dim=1)
    assert set(heights.tolist()) == {2, 3, 4}  # clipped at a border or whole


def test_policies_keep_the_inputs_device():
    x = torch.empty(2, 3, 8, 8, device="meta")
    for policy in ("color", "translation", "cutout"):
        assert DiffAugment([policy])(x).device.type == "meta"
