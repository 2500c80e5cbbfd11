"""Latent sampling for generation tools: the truncation trick in z (defined in ``gan_experiments.latents``)."""

from __future__ import annotations

from gan_experiments.latents import truncated_normal

__all__ = ["truncated_normal"]
