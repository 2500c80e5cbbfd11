"""Lipschitz constraints for the critic: gradient penalty (WGAN-GP) and weight clipping (WGAN)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample; [N, ...] -> [N, ...]."""
    eps = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    return (eps * real + (1 - eps) * fake).detach()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    x_hat: torch.Tensor,
    loss_scale: float = 1.0,
) -> torch.Tensor:
    """Two-sided gradient penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3), without its lambda:

        GP = E_{x_hat}[(||grad_{x_hat} D(x_hat)||_2 - 1)^2]

    x_hat: [N, ...] points to evaluate (usually ``interpolate(real, fake)``). The gradient is taken with
    respect to the input only, with ``create_graph=True`` so the penalty can be backpropagated.
    ``loss_scale``: under fp16 mixed precision, the AMP scaler's current scale; the critic output is
    scaled before ``autograd.grad`` and the gradient unscaled after, as in PyTorch's AMP recipe
    "gradient penalty", so small gradients do not underflow in fp16.
    """
    x_hat = x_hat.detach().requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum() * loss_scale, x_hat, create_graph=True)
    grad = grad.float() / loss_scale
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    loss_scale: float = 1.0,
) -> torch.Tensor:
    """R1 regularization (Mescheder et al. 2018, eq. 9), without its gamma / 2:

        R1 = E_{x ~ p_data}[||grad_x D(x)||_2^2]

    A zero-centred penalty on real data only; it makes GAN training locally convergent. ``real``: [N, ...].
    ``loss_scale`` as in ``gradient_penalty``.
    """
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real).sum() * loss_scale, real, create_graph=True)
    grad = grad.float() / loss_scale
    return grad.flatten(1).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip_value: float) -> None:
    """WGAN weight clipping (Arjovsky et al. 2017, Algorithm 1): w <- clip(w, -c, c) for every parameter."""
    for p in module.parameters():
        p.clamp_(-clip_value, clip_value)
