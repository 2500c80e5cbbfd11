"""Inference helpers shared by the modules' sampling and translation methods."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


@contextmanager
def eval_mode(network: nn.Module) -> Iterator[nn.Module]:
    """``network`` in eval mode inside the block (batch statistics, no dropout); its mode is restored after."""
    was_training = network.training
    network.eval()
    try:
        yield network
    finally:
        network.train(was_training)


TEST_MODES = ("paper", "eval")


def _single_image_batch_norm(norm: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """What ``norm`` in training mode computes for each image of ``x`` fed alone (a batch of 1): each image's
    own per-channel mean and biased variance over H, W, then the affine map; no running statistics."""
    return F.instance_norm(x, weight=norm.weight, bias=norm.bias, eps=norm.eps)


@contextmanager
def paper_test_mode(network: nn.Module, seed: int = 0) -> Iterator[nn.Module]:
    """``network`` as pix2pix is tested in the paper (Isola et al. 2017, sec. 3.3) and by the reference's
    default ``test.py`` (no ``--eval``, batch size 1): in training mode, so dropout stays on, and batch norm
    normalizes with the statistics of the batch it is given, here each image's own (as if fed one at a
    time, but in one batched pass). Nothing of the network's state changes: the running statistics are
    neither used nor updated, and dropout draws from a separate random stream seeded with ``seed`` (the
    same batch always gives the same output; the caller's random streams, e.g. training's, do not advance)."""
    was_training = network.training
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    devices = [p.device for p in network.parameters() if p.device.type == "cuda"][:1]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        network.train()
        for norm in norms:
            norm.forward = functools.partial(_single_image_batch_norm, norm)
        try:
            yield network
        finally:
            for norm in norms:
                del norm.forward
            network.train(was_training)
