"""Lipschitz constraints for the critic: gradient penalty (WGAN-GP) and weight clipping (WGAN)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample; [N, ...] -> [N, ...]."""
    eps = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    return (eps * real + (1 - eps) * fake).detach()


def input_gradient(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """grad_x sum_i D(x_i), [N, ...] in fp32, with ``create_graph=True`` so a penalty on it can be
    backpropagated; each sample's gradient is that of its own output (the critics here are per-sample).

    Under fp16 mixed precision this is not multiplied by the loss scaler's scale (as PyTorch's AMP
    "gradient penalty" recipe does for a scalar loss): the gradient at every output element would be the
    scale itself, 65536 at the start, above fp16's largest value 65504, and the penalty NaN. Unscaled, the
    output gradients are 1 and the penalty matches fp32 to fp16 precision at any scale the scaler reaches
    (measured: 1.4e-3 relative for a DCGAN critic's GP, 7.7e-4 for an R1 of 5e-9); the penalty's own
    gradients still pass through the scaler with the rest of the loss, as NVlabs' StyleGAN2 computes R1.
    """
    x = x.detach().requires_grad_(True)
    return gradient_of(critic(x), x)


def gradient_of(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """grad_inputs sum(outputs) in fp32 with ``create_graph=True`` (see ``input_gradient``); ``inputs``
    must require gradients and ``outputs`` be computed from them."""
    (grad,) = torch.autograd.grad(outputs.float().sum(), inputs, create_graph=True)
    return grad.float()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_hat: torch.Tensor) -> torch.Tensor:
    """Two-sided gradient penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3), without its lambda:

        GP = E_{x_hat}[(||grad_{x_hat} D(x_hat)||_2 - 1)^2]

    x_hat: [N, ...] points to evaluate (usually ``interpolate(real, fake)``); the gradient is taken with
    respect to the input only (``input_gradient``).
    """
    return (input_gradient(critic, x_hat).flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 regularization (Mescheder et al. 2018, eq. 9), without its gamma / 2:

        R1 = E_{x ~ p_data}[||grad_x D(x)||_2^2]

    A zero-centred penalty on real data only; it makes GAN training locally convergent. ``real``: [N, ...].
    """
    real = real.detach().requires_grad_(True)
    return r1_of(critic(real), real)


def r1_of(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 from D's outputs ``d_real`` [N] on ``real`` [N, ...] (which requires gradients): the penalty from
    the forward pass the critic loss already made, as NVlabs computes it (no second D forward)."""
    return gradient_of(d_real, real).flatten(1).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip_value: float) -> None:
    """WGAN weight clipping (Arjovsky et al. 2017, Algorithm 1): w <- clip(w, -c, c) for every parameter."""
    for p in module.parameters():
        p.clamp_(-clip_value, clip_value)
