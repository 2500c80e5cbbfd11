"""Mode-collapse alarm for labelled data: which classes a classifier sees in the generated samples."""

from __future__ import annotations

import torch


def class_coverage(fake_logits: torch.Tensor, real_labels: torch.Tensor, num_classes: int,
                   min_share: float = 0.1) -> dict[str, float]:
    """fake_logits [M, K] of the dataset classifier, real_labels [N] -> class_kl and classes_covered.

    class_kl = KL(p_fake || p_real) between the predicted class histogram of the fakes and the real label
    histogram (0 when they match; log K when every sample falls in one of K balanced classes).
    A class is covered when it receives at least ``min_share`` of its share under the real distribution.
    """
    p_fake = torch.bincount(fake_logits.argmax(1), minlength=num_classes).double() / len(fake_logits)
    p_real = torch.bincount(real_labels, minlength=num_classes).double() / len(real_labels)
    terms = torch.where(p_fake > 0, p_fake * (p_fake / p_real.clamp_min(1e-12)).log(), torch.zeros_like(p_fake))
    return {
        "class_kl": terms.sum().item(),
        "classes_covered": float((p_fake >= min_share * p_real).logical_and(p_real > 0).sum()),
    }
