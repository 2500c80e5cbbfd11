"""FID, KID, IS and precision/recall on cases with known answers, and FID against scipy in float64."""

import numpy as np
import pytest
import torch

from gan_experiments.metrics.class_coverage import class_coverage
from gan_experiments.metrics.memorization import memorization
from gan_experiments.metrics.precision_recall import precision_recall
from gan_experiments.metrics.scores import all_scores, frechet_distance, inception_score, kernel_distance
from tests.helpers import scipy_fid


@pytest.fixture
def features():
    gen = torch.Generator().manual_seed(0)
    correlated = torch.randn(1500, 16, generator=gen) @ torch.randn(16, 16, generator=gen)
    return correlated / correlated.std()


def test_identical_sets(features):
    assert abs(frechet_distance(features, features)) < 1e-6
    scores = precision_recall(features, features)
    assert scores == {"precision": 1.0, "recall": 1.0}


def test_fid_grows_with_the_shift(features):
    fids = [frechet_distance(features, features + shift) for shift in (0.1, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(fids, fids[1:], strict=False))
    assert fids[-1] == pytest.approx(16 * 2.0**2, rel=1e-6)  # a pure shift adds ||delta||^2
    kids = [kernel_distance(features, features + shift)[0] for shift in (0.25, 0.5, 1.0)]
    assert kids[0] < kids[1] < kids[2]


def test_fid_grows_with_noise(features):
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(features.shape, generator=gen)
    fids = [frechet_distance(features, features + s * noise) for s in (0.1, 0.5, 1.0)]
    assert fids[0] < fids[1] < fids[2]


def test_fid_is_symmetric_and_matches_scipy(features):
    other = torch.randn(1200, 16, generator=torch.Generator().manual_seed(2)) * 1.5 + 0.3
    forward, backward = frechet_distance(features, other), frechet_distance(other, features)
    assert forward == pytest.approx(backward, rel=1e-9)
    assert forward == pytest.approx(scipy_fid(features, other), rel=1e-6)


def test_precision_recall_of_a_collapsed_generator(features):
    collapsed = features[:1].repeat(500, 1) + 0.001 * torch.randn(500, 16)
    scores = precision_recall(features, collapsed)
    assert scores["precision"] == 1.0  # every fake is realistic ...
    assert scores["recall"] < 0.01  # ... but covers almost none of the real data


def test_precision_recall_of_disjoint_sets(features):
    assert precision_recall(features, features + 1000.0) == {"precision": 0.0, "recall": 0.0}


def test_inception_score_bounds():
    k = 10
    confident_uniform = torch.eye(k).repeat(50, 1) * 50  # sharp predictions, every class equally often
    assert inception_score(confident_uniform, splits=1)[0] == pytest.approx(k, rel=1e-3)
    one_class = torch.zeros(500, k)
    one_class[:, 3] = 50
    assert inception_score(one_class)[0] == pytest.approx(1.0, rel=1e-3)


def test_kid_is_unbiased_and_reproducible(features):
    other = features + 0.5
    assert kernel_distance(features, other) == kernel_distance(features, other)  # fixed seed
    # two independent samples of one distribution: KID (an unbiased MMD^2 estimate) is 0 within its noise
    gen = torch.Generator().manual_seed(5)
    a, b = torch.randn(1500, 16, generator=gen), torch.randn(1500, 16, generator=gen)
    same_mean, same_std = kernel_distance(a, b)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert kernel_distance(a, b + 0.5)[0] > 20 * abs(same_mean)


def test_all_scores_keys(features):
    logits = torch.randn(len(features), 10)
    scores = all_scores(features, features, logits)
    assert set(scores) == {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall"}


def test_class_coverage():
    real = torch.arange(10).repeat(100)
    balanced = torch.nn.functional.one_hot(torch.arange(10).repeat(50), 10).float()
    assert class_coverage(balanced, real, 10) == {"class_kl": pytest.approx(0.0, abs=1e-9), "classes_covered": 10.0}
    collapsed = torch.nn.functional.one_hot(torch.full((500,), 7), 10).float()
    scores = class_coverage(collapsed, real, 10)
    assert scores["class_kl"] == pytest.approx(np.log(10)) and scores["classes_covered"] == 1.0


def test_nearest_in_chunks_equals_the_full_distance_matrix():
    from gan_experiments.metrics.memorization import nearest

    gen = torch.Generator().manual_seed(1)
    queries, reference = torch.randn(50, 6, generator=gen), torch.randn(83, 6, generator=gen)
    distances, indices = nearest(queries, reference, chunk=7)  # chunks over queries and the reference
    full = torch.cdist(queries.double(), reference.double())
    assert torch.equal(indices, full.argmin(dim=1))
    assert torch.allclose(distances, full.min(dim=1).values)


def test_memorization_flags_copies():
    gen = torch.Generator().manual_seed(0)
    train, val = torch.randn(500, 8, generator=gen), torch.randn(200, 8, generator=gen)
    copies = train[:100] + 1e-4 * torch.randn(100, 8, generator=gen)
    assert memorization(copies, train, val)["memorized_fraction"] == 1.0
    fresh = torch.randn(300, 8, generator=gen)
    assert memorization(fresh, train, val)["memorized_fraction"] < 0.05
    report = memorization(torch.cat([fresh, copies]), train, val)
    assert (report["closest_fake"][:100] >= 300).all()  # the copies are the closest pairs
