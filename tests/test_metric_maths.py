"""Metric maths on small known sets, against brute-force numpy / scipy / sklearn references written from the
papers' definitions: improved precision and recall, mode coverage, the memorization share, and the feature
cache key (sha256 of the extractor's fingerprint, the uint8 images and the labels)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors
from torch.utils.data import TensorDataset

from gan_experiments.data.base import InMemoryDataset
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.memorization import memorization, nearest
from gan_experiments.metrics.mode_coverage import mode_coverage
from gan_experiments.metrics.precision_recall import inside_manifold, knn_radii, precision_recall
from gan_experiments.metrics.reference import extract, first_images, image_batches, real_features

# ---- improved precision and recall (Kynkaanniemi et al. 2019) -----------------------------------------


def _pr_reference(real, fake, k):
    """The paper's definition, brute force: f is in the manifold of set S if ||f - s|| <= NN_k(s) for some s."""
    def radii(s):
        return NearestNeighbors(n_neighbors=k + 1).fit(s).kneighbors(s)[0][:, k]

    def share_inside(queries, points):
        return float((cdist(queries, points) <= radii(points)[None, :]).any(axis=1).mean())

    return share_inside(fake, real), share_inside(real, fake)


def test_knn_radii_are_the_distance_to_the_kth_other_point():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 3))
    for k in (1, 3, 5):
        expected = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)[0][:, k]
        got = knn_radii(torch.from_numpy(x), k=k, chunk=4)
        assert np.allclose(got.numpy(), expected)
    default = NearestNeighbors(n_neighbors=4).fit(x).kneighbors(x)[0][:, 3]
    assert np.allclose(knn_radii(torch.from_numpy(x)).numpy(), default)  # k = 3


def test_knn_radii_by_hand_and_their_minimum_set_size():
    line = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    assert knn_radii(line, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(line, k=3).tolist() == [7.0, 6.0, 4.0, 7.0]  # k + 1 points are enough
    with pytest.raises(ValueError) as info:
        knn_radii(line[:3], k=3)
    assert str(info.value) == "need more than k=3 samples for k-NN radii, got 3"


def test_inside_manifold_includes_the_ball_boundary():
    points = torch.tensor([[0.0], [10.0]], dtype=torch.float64)
    radii = torch.tensor([1.0, 2.0], dtype=torch.float64)
    queries = torch.tensor([[1.0], [1.5], [-1.0], [8.0], [12.0], [12.5], [5.0]], dtype=torch.float64)
    expected = [True, False, True, True, True, False, False]
    assert inside_manifold(queries, points, radii).tolist() == expected
    assert inside_manifold(queries, points, radii, chunk=2).tolist() == expected


def test_precision_and_recall_match_the_papers_definition():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 4))
    fake = rng.normal(loc=0.8, scale=0.5, size=(30, 4))  # a shifted, narrower fake set: precision != recall
    for k in (1, 3):
        p, r = _pr_reference(real, fake, k)
        got = precision_recall(torch.from_numpy(real).float(), torch.from_numpy(fake).float(), k=k)
        assert got["precision"] == pytest.approx(p) and got["recall"] == pytest.approx(r)
        assert p != r
    p3, r3 = _pr_reference(real, fake, 3)
    default = precision_recall(torch.from_numpy(real), torch.from_numpy(fake))
    assert default == {"precision": pytest.approx(p3), "recall": pytest.approx(r3)}
    assert isinstance(default["precision"], float)


def test_precision_and_recall_by_hand():
    # reals 0, 1, 2, 3, 4.2 (k=1 radii 1, 1, 1, 1, 1.2); fakes 2.5, 3.5, 10, 11 (radii 1 each)
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.2]])
    fake = torch.tensor([[2.5], [3.5], [10.0], [11.0]])
    got = precision_recall(real, fake, k=1)
    assert got["precision"] == pytest.approx(2 / 4)  # 2.5 and 3.5 lie in the real manifold
    assert got["recall"] == pytest.approx(3 / 5)  # 2, 3 and 4.2 lie within 1 of a fake 2.5 or 3.5


# ---- mode coverage (VEEGAN / PacGAN protocol) ----------------------------------------------------------

CENTRES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def _around(centre, n, offset):
    return torch.tensor(centre).repeat(n, 1) + torch.tensor(offset)


def test_coverage_counts_high_quality_samples_per_nearest_mode():
    std = 0.5  # high quality: within 1.5 of the nearest centre, boundary included
    samples = torch.cat([
        _around([0.0, 0.0], 20, [1.5, 0.0]),     # exactly 3 std away: high quality; 20 = min_count: covered
        _around([10.0, 0.0], 19, [0.0, -1.0]),   # 19: not covered
        _around([0.0, 10.0], 25, [0.0, 1.51]),  # just outside 3 std: low quality
        _around([6.0, 0.0], 1, [0.0, 0.0]),      # nearest to (10, 0) but 4 away: low quality
    ]).double()
    got = mode_coverage(samples, CENTRES, std)
    assert got == {"modes_covered": 1.0, "high_quality_fraction": pytest.approx(39 / 65)}
    assert mode_coverage(samples, CENTRES, std, min_count=19)["modes_covered"] == 2.0
    assert mode_coverage(samples, CENTRES, std, min_count=21)["modes_covered"] == 0.0


def test_coverage_assigns_each_sample_to_its_nearest_mode_only():
    # 20 samples at (4, 0): nearest to (0, 0) (4 away) and 6 from (10, 0); with std 2 both are within 3 std
    samples = _around([4.0, 0.0], 20, [0.0, 0.0])
    assert mode_coverage(samples, CENTRES, 2.0) == {"modes_covered": 1.0, "high_quality_fraction": 1.0}
    # the last mode gets them when it is the nearest: counts land on the right index
    assert mode_coverage(_around([0.0, 9.0], 20, [0.0, 0.0]), CENTRES, 0.5)["modes_covered"] == 1.0
    assert mode_coverage(_around([0.0, 9.0], 20, [0.0, 0.0]), CENTRES[:2], 0.5)["modes_covered"] == 0.0


@pytest.mark.parametrize("shape", [(5,), (5, 3), (2, 5, 2)])
def test_coverage_refuses_samples_of_another_shape(shape):
    with pytest.raises(ValueError) as info:
        mode_coverage(torch.zeros(shape), CENTRES, 1.0)
    assert str(info.value) == f"samples must have shape [N, 2], got {list(shape)}"


# ---- memorization -------------------------------------------------------------------------------------------

def test_nearest_matches_scipy_across_chunks_and_keeps_the_first_of_ties():
    rng = np.random.default_rng(2)
    queries, reference = rng.normal(size=(11, 3)), rng.normal(size=(17, 3))
    d = cdist(queries, reference)
    for chunk in (1, 4, 1024):
        dist, idx = nearest(torch.from_numpy(queries).float(), torch.from_numpy(reference).float(), chunk=chunk)
        assert dist.dtype == torch.float64 and idx.dtype == torch.long
        assert np.allclose(dist.numpy(), d.min(axis=1), atol=1e-5) and idx.tolist() == d.argmin(axis=1).tolist()
    # duplicates in later chunks: the first index stays (strictly closer replaces it)
    ref = torch.tensor([[5.0], [1.0], [1.0], [1.0], [9.0]])
    dist, idx = nearest(torch.tensor([[1.2], [8.0], [20.0]]), ref, chunk=2)
    assert idx.tolist() == [1, 4, 4] and dist.tolist() == pytest.approx([0.2, 1.0, 11.0])


def test_nearest_to_an_empty_reference_is_infinitely_far_in_float64():
    dist, idx = nearest(torch.zeros(2, 3), torch.zeros(0, 3))
    assert dist.dtype == torch.float64 and torch.isinf(dist).all() and idx.tolist() == [0, 0]


def test_memorization_share_below_the_validation_percentile():
    train = torch.tensor([[0.0], [10.0], [20.0]])
    val = torch.tensor([[1.0], [2.0], [3.0], [4.0], [13.0]])  # distances 1, 2, 3, 4, 3
    fake = torch.tensor([[10.5], [0.2], [19.0], [3.0], [14.0], [11.9]])  # distances 0.5, 0.2, 1, 3, 4, 1.9
    fake_d = np.array([0.5, 0.2, 1.0, 3.0, 4.0, 1.9])
    for percentile in (25.0, 50.0):
        threshold = np.percentile([1.0, 2.0, 3.0, 4.0, 3.0], percentile)  # linear interpolation, as numpy
        got = memorization(fake, train, val, percentile=percentile)
        assert got["threshold"] == pytest.approx(threshold)
        assert got["memorized_fraction"] == pytest.approx((fake_d < threshold).mean())
    got = memorization(fake, train, val, percentile=25.0)  # threshold 2: 0.2, 0.5, 1, 1.9 are below
    assert got["memorized_fraction"] == pytest.approx(4 / 6)
    assert got["closest_fake"].tolist() == [1, 0, 2, 5, 3, 4]
    assert got["closest_train"].tolist() == [0, 1, 2, 1, 0, 1]
    assert got["distances"].tolist() == pytest.approx([0.2, 0.5, 1.0, 1.9, 3.0, 4.0])
    default = memorization(fake, train, val)  # the 1st percentile of [1, 2, 3, 3, 4] = 1.04
    assert default["threshold"] == pytest.approx(np.percentile([1, 2, 3, 3, 4], 1))
    assert default["memorized_fraction"] == pytest.approx(3 / 6)  # 0.2, 0.5 and 1.0
    # a threshold equal to a fake's distance does not count it (strictly closer)
    assert memorization(torch.tensor([[2.0]]), train, val, percentile=25.0)["memorized_fraction"] == 0.0


# ---- the feature cache key -----------------------------------------------------------------------------------

class CountingExtractor(FeatureExtractor):
    """features = per-image mean and max, logits = the first pixel; counts its forward passes."""

    name = "counting"
    num_features = 2
    batch_size = 3

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(scale))
        self.calls = 0

    def extract(self, images):
        self.calls += 1
        flat = images.flatten(1) * self.scale
        return torch.stack([flat.mean(1), flat.max(1).values], dim=1), flat[:, :1]


def _dataset(n=7, seed=0, labels=None):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 4, 4, generator=g) * 2 - 1
    return InMemoryDataset(images, torch.arange(n) % 3 if labels is None else labels)


def _expected_key(extractor, images, labels):
    uint8 = np.floor((np.clip(images.numpy().astype(np.float32), -1, 1) + 1) * 127.5 + 0.5).astype(np.uint8)
    images_digest = hashlib.sha256(extractor.fingerprint.encode() + uint8.tobytes()).digest()
    labels_digest = hashlib.sha256(labels.numpy().tobytes()).digest()
    return hashlib.sha256(images_digest + labels_digest).hexdigest()[:24]


def test_cache_key_hashes_the_fingerprint_uint8_images_and_labels(tmp_path):
    data, extractor = _dataset(), CountingExtractor()
    got = real_features(extractor, data, 5, tmp_path)
    assert got.key == _expected_key(extractor, data.samples[:5], data.labels[:5])
    assert len(got) == 5 and got.labels.tolist() == data.labels[:5].tolist()
    assert (tmp_path / "real_features" / f"counting-5-{got.key}.pt").is_file()
    assert [p.name for p in (tmp_path / "real_features").iterdir()] == [f"counting-5-{got.key}.pt"]
    expected_features = torch.stack([data.samples[:5].flatten(1).mean(1), data.samples[:5].flatten(1).max(1).values], 1)
    assert torch.allclose(got.features, expected_features) and torch.equal(got.logits, data.samples[:5].flatten(1)[:, :1])


def test_cache_key_of_a_set_read_in_several_batches_is_that_of_the_whole_set(tmp_path):
    """1,100 images are read 500 at a time; the key is the same formula over all of them at once."""
    data, extractor = _dataset(n=1100), CountingExtractor()
    got = real_features(extractor, data, None, tmp_path)
    assert got.key == _expected_key(extractor, data.samples, data.labels) and len(got) == 1100


def test_cache_hit_reuses_the_features_without_running_the_network(tmp_path):
    data = _dataset()
    first = real_features(CountingExtractor(), data, None, tmp_path)
    assert len(first) == 7
    again = CountingExtractor()
    hit = real_features(again, data, None, tmp_path)
    assert again.calls == 0 and hit.key == first.key
    assert torch.equal(hit.features, first.features) and torch.equal(hit.logits, first.logits)
    assert torch.equal(hit.labels, first.labels)
    assert real_features(again, data, 100, tmp_path).key == first.key and again.calls == 0  # n > len: all


def test_cache_key_changes_with_anything_that_changes_the_statistics(tmp_path):
    base = real_features(CountingExtractor(), _dataset(), 7, tmp_path).key
    keys = {
        "count": real_features(CountingExtractor(), _dataset(), 6, tmp_path).key,
        "images": real_features(CountingExtractor(), _dataset(seed=1), 7, tmp_path).key,
        "labels": real_features(CountingExtractor(), _dataset(labels=torch.zeros(7, dtype=torch.long)), 7, tmp_path).key,
        "weights": real_features(CountingExtractor(scale=2.0), _dataset(), 7, tmp_path).key,
    }
    assert base not in keys.values() and len(set(keys.values())) == 4


def test_cache_file_counts_images_over_all_batches_in_a_new_folder(tmp_path):
    data = InMemoryDataset(torch.zeros(1001, 1, 1, 1), torch.zeros(1001, dtype=torch.long))  # 3 batches of 500
    got = real_features(CountingExtractor(), data, None, tmp_path / "a" / "b")
    assert len(got) == 1001
    assert (tmp_path / "a" / "b" / "real_features" / f"counting-1001-{got.key}.pt").is_file()


def test_image_batches_yield_the_first_n_in_order(tmp_path):
    data = _dataset(n=7)
    batches = list(image_batches(data, 5, batch_size=2))
    assert [len(x) for x, _ in batches] == [2, 2, 1]
    assert torch.equal(torch.cat([x for x, _ in batches]), data.samples[:5])
    assert torch.cat([y for _, y in batches]).tolist() == data.labels[:5].tolist()
    assert sum(len(x) for x, _ in image_batches(data, None, batch_size=3)) == 7
    assert sum(len(x) for x, _ in image_batches(data, 50)) == 7
    assert list(image_batches(data, 0)) == []
    # a per-item dataset (default collate) the same way
    items = TensorDataset(data.samples, data.labels)
    images, labels = first_images(items, 4, batch_size=3)
    assert torch.equal(images, data.samples[:4]) and labels.tolist() == data.labels[:4].tolist()
    assert len(first_images(data, 6)[0]) == 6


def test_extract_runs_in_extractor_sized_batches():
    extractor = CountingExtractor()
    images = _dataset(n=7).samples
    features, logits = extract(extractor, images)
    assert extractor.calls == 3 and features.shape == (7, 2) and logits.shape == (7, 1)  # 3 + 3 + 1
    assert torch.equal(logits, images.flatten(1)[:, :1])
