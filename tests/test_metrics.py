"""Mode coverage protocol on samples whose answer is known."""

import torch

from gan_experiments.data.toy2d import mixture_centres
from gan_experiments.metrics import mode_coverage


def test_perfect_samples_cover_every_mode():
    centres, std = mixture_centres("ring8")
    samples = centres.repeat_interleave(300, dim=0) + 0.5 * std * torch.randn(2400, 2)
    scores = mode_coverage(samples, centres, std)
    assert scores["modes_covered"] == 8 and scores["high_quality_fraction"] > 0.99


def test_collapsed_samples_cover_one_mode():
    centres, std = mixture_centres("grid25")
    samples = centres[7] + std * torch.randn(2500, 2)
    scores = mode_coverage(samples, centres, std)
    assert scores["modes_covered"] == 1 and scores["high_quality_fraction"] > 0.98


def test_samples_between_modes_are_low_quality():
    centres, std = mixture_centres("ring8")
    samples = torch.zeros(2500, 2)  # the centre of the ring: 2 away from every mode
    assert mode_coverage(samples, centres, std) == {"modes_covered": 0.0, "high_quality_fraction": 0.0}


def test_threshold_is_three_std_and_twenty_samples():
    centres, std = torch.tensor([[0.0, 0.0], [10.0, 0.0]]), 1.0
    inside = torch.tensor([[2.99, 0.0]]).repeat(20, 1)
    outside = torch.tensor([[13.01, 0.0]]).repeat(20, 1)
    few = torch.tensor([[10.0, 0.0]]).repeat(19, 1)
    scores = mode_coverage(torch.cat([inside, outside, few]), centres, std)
    assert scores["modes_covered"] == 1  # mode 0 has 20 high-quality samples, mode 1 only 19
    assert abs(scores["high_quality_fraction"] - 39 / 59) < 1e-6
