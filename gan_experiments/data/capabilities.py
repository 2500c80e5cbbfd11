"""What callbacks and tools may ask of a DataModule beyond ``GANDataModule``, declared by inheriting these
bases (``class Toy2DDataModule(PointMixture, GANDataModule)``) and checked with ``isinstance``: a
DataModule that merely has a ``centres`` attribute is not a ``PointMixture``."""

from __future__ import annotations

import torch


class PointMixture:
    """Samples are points of a mixture of K Gaussians of one standard deviation (the 2-D toy data): metrics
    are mode coverage (``metrics.mode_coverage``), not image features.

    - ``centres``: [K, D] float tensor, the modes' means.
    - ``std``: float, every mode's standard deviation.
    """

    centres: torch.Tensor
    std: float


class NamedAttributes:
    """Each image has K binary attribute labels (CelebA's 40), and ``attribute_names`` [K] (str) names them
    in label order once the DataModule is set up (empty before); tools then choose attributes by name
    (``attribute=Smiling``) instead of by class index."""

    attribute_names: list[str]
