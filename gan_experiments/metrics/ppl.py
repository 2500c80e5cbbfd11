"""Perceptual path length (PPL; Karras et al. 2019, StyleGAN sec. 4.2; StyleGAN2 sec. 3): how much the image
changes, perceptually, for a small step along a path between two latents.

    l = E[ d(G(i(a, b; t)), G(i(a, b; t + eps))) / eps² ],        eps = 1e-4

- Z (``space='z'``): a, b ~ N(0, I), i = slerp between the normalized z's (StyleGAN eq. 2).
- W (``space='w'``): a = f(z0), b = f(z1) (the mapping network), i = lerp (StyleGAN eq. 3).
- ``sampling='full'``: t ~ U[0, 1); ``'end'``: t = 0 (the path's end points).
- Both images of a pair get the same noise maps; d is LPIPS (VGG-16, ``metrics.lpips``) on the images,
  optionally cropped to the face (``crop``) and area-downsampled when larger than 256 px.
- Distances outside the 1st ('lower') and 99th ('higher') percentiles are dropped; l is the mean of the rest.

Follows NVlabs/stylegan2-ada-pytorch ``metrics/perceptual_path_length.py`` (``ppl_wend``, ``ppl2_wend``, ...):
the slerp (on the unit sphere), lerp of the mapped ws, t + eps, the central crop window
(rows 3/8..7/8, columns 2/8..6/8), the downsampling factor (full resolution // 256, applied after the crop),
the percentile filter, the 50,000 samples of its metrics (the StyleGAN paper used 100,000). Where it
differs: the noise maps are drawn per pair (NVlabs: one set per batch, shared by its pairs); in Z a
plain generator gets the slerped point scaled to radius sqrt(latent_dim), where Gaussian z concentrate
(StyleGAN's mapping normalizes z first, so for it this is NVlabs' unit-sphere point); a conditional
generator's class is drawn uniformly (NVlabs: labels of random dataset images); LPIPS is torchmetrics'
network with torchvision's VGG-16 (NVlabs: its TorchScript ``vgg16.pt``; see ``metrics.lpips``).

torchmetrics' ``perceptual_path_length`` has no W space, no shared noise and a different upper
percentile ('lower'), and its ``_interpolate`` takes one scalar t for the batch: the loop is written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gan_experiments.models.capabilities import LatentGenerator, StyleSpaceGenerator

SPACES = ("z", "w")
SAMPLINGS = ("full", "end")
EPSILON = 1e-4
NUM_SAMPLES = 50_000  # NVlabs' ppl_* metrics; the StyleGAN paper used 100,000
LOW_PERCENTILE, HIGH_PERCENTILE = 1, 99
MAX_RESOLUTION = 256


@dataclass(frozen=True)
class PPLResult:
    """``ppl``: the mean of the kept distances; ``distances`` [num_samples] float64 (each d / eps²);
    ``kept`` [num_samples] bool, the ones inside the percentiles."""

    ppl: float
    distances: torch.Tensor
    kept: torch.Tensor


def metric_name(space: str, sampling: str, crop: bool) -> str:
    """NVlabs' names: ``ppl_zfull``, ``ppl_wfull``, ``ppl_zend``, ``ppl_wend`` (face crop) and ``ppl2_wend``
    (the StyleGAN2 paper's: W, end points, no crop); ``ppl2_`` marks no crop in every space and sampling."""
    return f"ppl{'' if crop else '2'}_{space}{sampling}"


def describe_protocol(space: str, sampling: str, epsilon: float, num_samples: int, crop: bool) -> str:
    """One line: what produced the number (for the JSON of task=ppl and metrics.json)."""
    path = "lerp between mapped w's" if space == "w" else "slerp between normalized z's"
    t = "t = 0 (end points)" if sampling == "end" else "t ~ U[0, 1)"
    return (f"{metric_name(space, sampling, crop)}: {num_samples} pairs, {path}, {t}, eps {epsilon:g}, "
            f"{'face crop, ' if crop else ''}images area-downsampled to <= 256 px, LPIPS (VGG-16: torchvision "
            f"backbone, LPIPS v0.1 linear layers), mean of the distances within the {LOW_PERCENTILE}st-"
            f"{HIGH_PERCENTILE}th percentiles")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation on the unit sphere: â cos(t ω) + c sin(t ω), â, b̂ = a, b normalized,
    ω = acos(â·b̂), c the unit vector along b̂ - (â·b̂) â (equal to (sin((1-t) ω) â + sin(t ω) b̂) / sin ω).
    a, b [N, D], t [N, 1] -> unit vectors [N, D]."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(dim=-1, keepdim=True)
    angle = t * torch.acos(cos.clamp(-1, 1))
    c = b - cos * a
    c = c / c.norm(dim=-1, keepdim=True)
    out = a * torch.cos(angle) + c * torch.sin(angle)
    return out / out.norm(dim=-1, keepdim=True)


def pair_latents(num_samples: int, latent_dim: int, sampling: str, seed: int) -> tuple[torch.Tensor, ...]:
    """The seeded draws (on the CPU, the same on every device): z0, z1 [num_samples, latent_dim] ~ N(0, I)
    and t [num_samples] ~ U[0, 1) ('full') or 0 ('end')."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    gen = torch.Generator().manual_seed(seed)
    z0 = torch.randn(num_samples, latent_dim, generator=gen)
    z1 = torch.randn(num_samples, latent_dim, generator=gen)
    t = torch.rand(num_samples, generator=gen) * (1.0 if sampling == "full" else 0.0)
    return z0, z1, t


def crop_face(images: torch.Tensor) -> torch.Tensor:
    """NVlabs' ``crop=True`` (FFHQ): the central window rows [3c, 7c), columns [2c, 6c), c = S // 8, of
    square images [N, C, S, S] -> [N, C, 4c, 4c]."""
    if images.shape[2] != images.shape[3]:
        raise ValueError(f"the face crop needs square images, got {list(images.shape[2:])}")
    c = images.shape[2] // 8
    return images[:, :, 3 * c : 7 * c, 2 * c : 6 * c]


def downsample(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Area (box) average by factor = resolution // 256 (the generator's resolution, as NVlabs, also after a
    crop); images [N, C, H, W] -> [N, C, H / factor, W / factor]; unchanged at 256 px and below."""
    factor = resolution // MAX_RESOLUTION
    return F.avg_pool2d(images, factor) if factor > 1 else images


def keep_inliers(distances: torch.Tensor) -> torch.Tensor:
    """The mask [N] of distances inside [P1, P99], NVlabs' ``np.percentile(d, 1, interpolation='lower')`` and
    ``np.percentile(d, 99, interpolation='higher')`` (both ends kept)."""
    values = distances.detach().cpu().double().numpy()
    low = np.percentile(values, LOW_PERCENTILE, method="lower")
    high = np.percentile(values, HIGH_PERCENTILE, method="higher")
    return torch.from_numpy((values >= low) & (values <= high))


def _render(generator: LatentGenerator, latents: torch.Tensor, space: str, labels: torch.Tensor | None,
            noise_seed: int, device: torch.device) -> torch.Tensor:
    """Images [N, C, H, W] (float32, on ``device``) of z [N, D] (space z) or ws [N, L, W] (space w), with the
    noise maps the generator draws from the global generator seeded by ``noise_seed`` (and the global
    state restored): two calls with one seed and batch size get the same noise."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(noise_seed)
        if space == "w":
            images = generator.synthesize(latents)
        else:
            images = generator.sample(latents, labels)
    if images.ndim != 4:
        raise ValueError(f"the perceptual path length needs an image generator, got outputs {list(images.shape)}")
    return images.to(device).float()


def pair_distances(generator: LatentGenerator, distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, noise_seed: int, *, epsilon: float,
                   space: str, crop: bool, labels: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """d(G(i(t)), G(i(t + eps))) / eps² [N] for one batch of pairs z0, z1 [N, D], t [N]."""
    t = t.to(device)[:, None]
    if space == "w":
        w0, w1 = generator.styles(torch.cat([z0, z1]).to(device)).to(device).float().chunk(2)  # [N, L, W] each
        tt = t[:, :, None]
        ends = (torch.lerp(w0, w1, tt), torch.lerp(w0, w1, tt + epsilon))
    else:
        a, b = z0.to(device), z1.to(device)
        radius = math.sqrt(z0.shape[1])
        ends = (slerp(a, b, t) * radius, slerp(a, b, t + epsilon) * radius)
    images = [_render(generator, latents, space, labels, noise_seed, device) for latents in ends]
    resolution = images[0].shape[2]
    if crop:
        images = [crop_face(x) for x in images]
    images = [downsample(x, resolution) for x in images]
    return distance(*images).double().flatten() / epsilon**2


@torch.no_grad()
def perceptual_path_length(generator: LatentGenerator, distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                           *, num_samples: int = NUM_SAMPLES, epsilon: float = EPSILON, space: str = "w",
                           sampling: str = "end", crop: bool = False, batch_size: int = 16, seed: int = 0,
                           device: torch.device | str = "cpu") -> PPLResult:
    """PPL of ``generator`` (in eval mode, on ``device`` like ``distance``): ``space`` 'w' needs an
    unconditional ``StyleSpaceGenerator``, 'z' any ``LatentGenerator`` (a conditional one gets one uniform
    class per pair). ``distance(x0, x1) -> [N]`` takes images [N, C, H, W] in [-1, 1] (LPIPS: ``metrics.lpips``).
    ``num_samples`` pairs, ``batch_size`` at a time, all draws from ``seed``."""
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if not isinstance(generator, LatentGenerator):
        raise TypeError(f"{type(generator).__name__} does not declare LatentGenerator: it has no latent space")
    if space == "w" and not isinstance(generator, StyleSpaceGenerator):
        raise ValueError(f"space='w' needs a StyleGAN (a StyleSpaceGenerator); {type(generator).__name__} is not "
                         "one: use space='z'")
    if space == "w" and generator.num_classes:
        raise ValueError("space='w' maps z without labels: a conditional generator's PPL is measured in z")
    if num_samples < 1 or batch_size < 1 or epsilon <= 0:
        raise ValueError("num_samples and batch_size must be >= 1 and epsilon > 0")
    device = torch.device(device)
    z0, z1, t = pair_latents(num_samples, generator.latent_dim, sampling, seed)
    labels = (torch.randint(0, generator.num_classes, (num_samples,), generator=torch.Generator().manual_seed(seed + 1))
              if generator.num_classes else None)
    noise_gen = torch.Generator().manual_seed(seed + 2)  # one noise seed per batch: each pair its own noise rows
    chunks = []
    for i in range(0, num_samples, batch_size):
        rows, noise_seed = slice(i, i + batch_size), int(torch.randint(0, 2**62, (), generator=noise_gen))
        chunks.append(pair_distances(generator, distance, z0[rows], z1[rows], t[rows], noise_seed,
                                     epsilon=epsilon, space=space, crop=crop, device=device,
                                     labels=None if labels is None else labels[rows].to(device)).cpu())
    distances = torch.cat(chunks)
    kept = keep_inliers(distances)
    return PPLResult(float(distances[kept].mean()), distances, kept)
