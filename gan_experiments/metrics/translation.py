"""Scores of image-to-image translation against ground truth (paired data), per image.

All take generator-range images [N, C, H, W] in [-1, 1] and return per-image values [N]:
``l1`` in that range (the pix2pix training term), ``psnr`` (dB) and ``ssim`` on images mapped to [0, 1]
(data range 1; torchmetrics' Gaussian 11x11 SSIM window).
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def to_unit(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() + 1) / 2).clamp(0, 1)


def paired_scores(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """{'l1', 'psnr', 'ssim'}: each [N], one value per (output, target) pair."""
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs {list(outputs.shape)} and targets {list(targets.shape)} differ in shape")
    out, tgt = to_unit(outputs), to_unit(targets)
    return {
        "l1": (outputs.float() - targets.float()).abs().flatten(1).mean(1),
        "psnr": peak_signal_noise_ratio(out, tgt, data_range=1.0, reduction="none", dim=(1, 2, 3)),
        "ssim": structural_similarity_index_measure(out, tgt, data_range=1.0, reduction="none"),
    }


def domain_accuracy(logits: torch.Tensor, domain: int) -> float:
    """Share of images whose domain-classifier logits [N, 2] pick ``domain`` (0 = A, 1 = B)."""
    return (logits.argmax(dim=1) == domain).float().mean().item()
