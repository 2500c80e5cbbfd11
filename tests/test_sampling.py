"""EpochShuffle: the data order as a function of (seed, epoch, rank)."""

import torch

from gan_experiments.data.sampling import EpochShuffle


def test_ranks_get_disjoint_equal_shards_of_one_permutation():
    shards = [list(EpochShuffle(10, seed=3, epoch=1, rank=r, world_size=3)) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    flat = [i for s in shards for i in s]
    assert len(set(flat)) == 9 and set(flat) <= set(range(10))


def test_order_depends_on_epoch_and_seed_only():
    sampler = EpochShuffle(50, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second and sorted(first) == list(range(50))
    fresh = EpochShuffle(50, seed=3, epoch=1)  # e.g. after a resume at epoch 1
    assert list(fresh) == second and list(EpochShuffle(50, seed=4, epoch=1)) != second


def test_skip_drops_the_seen_part_of_the_first_pass_only():
    full = list(EpochShuffle(20, seed=0, epoch=2))
    resumed = EpochShuffle(20, seed=0, epoch=2, skip=8)
    assert list(resumed) == full[8:] and list(resumed) == full


def test_loader_generator_is_reseeded_per_epoch():
    sampler = EpochShuffle(8, seed=1)
    a = torch.randint(1000, (3,), generator=sampler.loader_generator)
    sampler.set_epoch(0)
    assert torch.equal(torch.randint(1000, (3,), generator=sampler.loader_generator), a)
