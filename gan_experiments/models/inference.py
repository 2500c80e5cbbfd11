"""Inference helper shared by the modules' sampling and translation methods."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
