"""benchmarks/stylegan_compare.py gives StyleGAN and StyleGAN2 the same feature maps at every resolution."""

from __future__ import annotations

import argparse
import importlib.util
import sys

import pytest

from gan_experiments.networks.stylegan import channel_widths
from gan_experiments.networks.stylegan2 import stylegan2_widths
from tests.helpers import ROOT, compose_train


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("stylegan_compare", ROOT / "benchmarks" / "stylegan_compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stylegan_compare"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("size", "base", "most", "expected"), [
    (32, 32, 256, [256, 128, 64, 32]),  # the script's defaults
    (32, 64, 512, [512, 256, 128, 64]),  # StyleGAN's own CPU default at 32 px
    (64, 16, 128, [128, 128, 64, 32, 16]),
])
def test_both_generations_get_the_same_widths(compare, tmp_path, size, base, most, expected):
    args = argparse.Namespace(size=size, base_channels=base, max_channels=most, kimg=14, ada_kimg=10)
    widths = {}
    for model in ("stylegan", "stylegan2", "stylegan2_ada"):
        overrides = compare.model_overrides(model, args) + ["data=celeba", f"data.image_size={size}"]
        g = compose_train(overrides, tmp_path).model.generator
        if model == "stylegan":
            widths[model] = channel_widths(size, g.base_channels, g.max_channels, g.fmap_base, g.fmap_decay)
        else:
            widths[model] = list(stylegan2_widths(size, g.channel_base, g.channel_max).values())
    assert widths == dict.fromkeys(widths, expected)
