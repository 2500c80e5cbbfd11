"""The CycleGAN image pool (junyanz ImagePool): fill first, then swap with probability 1/2, images conserved;
its state through checkpoints; the learning-rate and progressive schedules at their boundaries, by hand."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from gan_experiments.training import ImagePool, LinearDecay, ProgressiveSchedule


def _images(values, shape=(1, 2, 2), dtype=torch.float32):
    """One constant image per value: [len(values), *shape]."""
    return torch.stack([torch.full(shape, float(v), dtype=dtype) for v in values])


def _ids(batch):
    return [int(img.flatten()[0].item()) for img in batch]


def test_size_zero_returns_the_fakes_detached():
    fakes = torch.randn(3, 1, 2, 2, requires_grad=True)
    out = ImagePool(0).query(fakes)
    assert torch.equal(out, fakes) and not out.requires_grad
    assert ImagePool(0).images is None and ImagePool().size == 50 and ImagePool(3).count == 0


def test_negative_size_is_refused():
    with pytest.raises(ValueError, match=r"^pool_size must be >= 0, got -1$"):
        ImagePool(-1)


def test_the_pool_fills_first_returning_every_new_fake():
    pool = ImagePool(4)
    fakes = _images([1, 2, 3]).requires_grad_(True)
    out = pool.query(fakes)
    assert _ids(out) == [1, 2, 3] and not out.requires_grad and pool.count == 3
    assert _ids(pool.query(_images([4]))) == [4] and pool.count == 4  # the 4th fills the pool
    assert _ids(pool.images) == [1, 2, 3, 4]


def test_a_full_pool_swaps_half_the_fakes_and_conserves_every_image():
    torch.manual_seed(0)
    size = 4
    pool = ImagePool(size)
    pool.query(_images(range(size)))
    stored = Counter(_ids(pool.images))
    swapped = 0
    n = 400
    for v in range(size, size + n, 8):
        new = list(range(v, v + 8))
        out = _ids(pool.query(_images(new)))
        assert len(out) == 8
        after = Counter(_ids(pool.images))
        # what went in (pool before + new fakes) is what came out (pool after + returned), image for image
        assert stored + Counter(new) == after + Counter(out)
        swapped += sum(o != f for o, f in zip(out, new, strict=True))
        stored = after
    # Binomial(400, 1/2): mean 200, sd 10
    assert 160 <= swapped <= 240
    assert pool.count == size


def test_every_slot_gets_replaced():
    torch.manual_seed(1)
    pool = ImagePool(3)
    pool.query(_images([0, 1, 2]))
    pool.query(_images(range(100, 300)))
    assert all(v >= 100 for v in _ids(pool.images))


def test_a_returned_history_image_is_a_copy():
    torch.manual_seed(2)
    pool = ImagePool(1)
    pool.query(_images([7]))
    while True:
        out = pool.query(_images([8]))
        if _ids(out) == [7]:
            break
    assert _ids(pool.images) == [8]  # the returned 7 is not a view of the slot now holding 8


def test_a_new_dtype_keeps_the_history_a_new_shape_resets_it():
    # the stored images keep their dtype (only a new shape or device rebuilds the store)
    pool = ImagePool(4)
    pool.query(_images([1, 2]))
    out = pool.query(_images([3], dtype=torch.float64))
    assert _ids(out) == [3] and pool.count == 3 and pool.images.dtype == torch.float32
    assert _ids(pool.images[:3]) == [1, 2, 3] and pool.images.shape == (4, 1, 2, 2)
    out = pool.query(_images([5, 6], shape=(1, 3, 3)))
    assert _ids(out) == [5, 6] and pool.count == 2 and pool.images.shape == (4, 1, 3, 3)
    out = pool.query(_images([9], shape=(2, 3, 3)))  # the channels count too
    assert pool.count == 1 and pool.images.shape == (4, 2, 3, 3)


def test_a_new_device_moves_the_history():
    pool = ImagePool(3)
    pool.query(_images([1]))
    pool.query(torch.empty(1, 1, 2, 2, device="meta"))
    assert pool.images.device.type == "meta" and pool.count == 2


def test_state_dict_round_trip():
    pool = ImagePool(5)
    pool.query(_images([1, 2, 3]))
    state = pool.state_dict()
    assert state["size"] == 5 and _ids(state["images"]) == [1, 2, 3]
    state["images"][0] += 10  # a copy
    assert _ids(pool.images[:1]) == [1]
    state = pool.state_dict()
    other = ImagePool(5)
    other.load_state_dict(state)
    assert other.count == 3 and other.images.shape == (5, 1, 2, 2) and _ids(other.images[:3]) == [1, 2, 3]
    # two more to fill: returned as they are, stored after the loaded three
    assert _ids(other.query(_images([4, 5]))) == [4, 5] and _ids(other.images) == [1, 2, 3, 4, 5]


def test_an_empty_state_round_trips():
    state = ImagePool(3).state_dict()
    assert state == {"size": 3, "images": None}
    pool = ImagePool(3)
    pool.count = 2
    pool.load_state_dict(state)
    assert pool.count == 0 and pool.images is None
    zero = ImagePool(0)
    zero.load_state_dict({"size": 0, "images": torch.zeros(2, 1, 2, 2)})
    assert zero.images is None and _ids(zero.query(_images([3]))) == [3]


def test_a_state_of_another_size_is_refused():
    with pytest.raises(ValueError, match=r"^checkpoint image pool holds 4 images, this model 5$"):
        ImagePool(5).load_state_dict({"size": 4, "images": None})


# ---- schedules ----------------------------------------------------------------------------------------------

def _junyanz_linear(k, n_epochs, n_epochs_decay, epoch_count=1):
    """networks.get_scheduler's lambda_rule after k scheduler steps (train.py steps at each epoch's start)."""
    return 1.0 - max(0, k + epoch_count - n_epochs) / float(n_epochs_decay + 1)


@pytest.mark.parametrize("n, d", [(3, 2), (1, 4), (0, 0), (5, 0)])
def test_linear_decay_is_junyanz_rule_one_epoch_ahead(n, d):
    schedule = LinearDecay(n, d)
    # here the scheduler steps at each epoch's end: after `epoch` of them, the reference has stepped epoch + 1 times
    expected = [max(0.0, _junyanz_linear(epoch + 1, n, d)) for epoch in range(n + d + 3)]
    assert [schedule(epoch) for epoch in range(n + d + 3)] == pytest.approx(expected)


def test_linear_decay_by_hand():
    s = LinearDecay(3, 2)
    assert [s(e) for e in range(6)] == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3, 0.0, 0.0])
    default = LinearDecay()
    assert (default.n_epochs, default.n_epochs_decay) == (100, 100)
    assert repr(s) == "LinearDecay(n_epochs=3, n_epochs_decay=2)"


@pytest.mark.parametrize("args", [(-1, 2), (2, -1)])
def test_linear_decay_refuses_negative_lengths(args):
    with pytest.raises(ValueError, match=rf"^n_epochs and n_epochs_decay must be >= 0, got {args[0]} and {args[1]}$"):
        LinearDecay(*args)


def test_progressive_phases_by_hand():
    s = ProgressiveSchedule(num_levels=4, fade_images=10, stable_images=20)
    expected = {0: (0, 1.0), 19: (0, 1.0), 20: (1, 0.0), 25: (1, 0.5), 29: (1, 0.9), 30: (1, 1.0), 49: (1, 1.0),
                50: (2, 0.0), 55: (2, 0.5), 60: (2, 1.0), 79: (2, 1.0), 80: (3, 0.0), 88: (3, 0.8), 90: (3, 1.0),
                10**7: (3, 1.0)}
    for images, (level, alpha) in expected.items():
        got = s.phase(images)
        assert got[0] == level and got[1] == pytest.approx(alpha), images
    assert [s.segment(i) for i in (0, 19, 20, 29, 30, 50, 60, 80, 90, 10**7)] == [0, 0, 1, 1, 2, 3, 4, 5, 6, 6]


def test_progressive_without_fade_jumps_to_each_level():
    s = ProgressiveSchedule(num_levels=3, fade_images=0, stable_images=5)
    assert [s.phase(i) for i in (0, 4, 5, 9, 10, 100)] == [(0, 1.0), (0, 1.0), (1, 1.0), (1, 1.0), (2, 1.0), (2, 1.0)]
    assert ProgressiveSchedule(num_levels=1, fade_images=3, stable_images=0).phase(50) == (0, 1.0)
    # no stable stretch: a level that has faded in fully starts the next one's fade at once
    s = ProgressiveSchedule(num_levels=3, fade_images=10, stable_images=0)
    assert [s.phase(i) for i in (0, 5, 10, 15, 20)] == [(1, 0.0), (1, 0.5), (2, 0.0), (2, 0.5), (2, 1.0)]


def test_progressive_disabled_trains_at_full_resolution():
    s = ProgressiveSchedule(num_levels=5, fade_images=10, stable_images=10, enabled=False)
    assert [s.phase(i) for i in (0, 15, 10**6)] == [(4, 1.0)] * 3
    assert {s.segment(i) for i in (0, 15, 10**6)} == {8}
    default = ProgressiveSchedule(3)
    assert (default.fade, default.stable, default.enabled) == (600_000, 600_000, True)
    assert repr(s) == "ProgressiveSchedule(levels=5, fade=10, stable=10, enabled=False)"


@pytest.mark.parametrize("fade, stable", [(-1, 0), (0, -1)])
def test_progressive_refuses_negative_lengths(fade, stable):
    with pytest.raises(ValueError, match=rf"^fade_images and stable_images must be >= 0, got {fade}, {stable}$"):
        ProgressiveSchedule(3, fade, stable)
    ProgressiveSchedule(3, 0, 0)
