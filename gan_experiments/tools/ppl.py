"""``evaluate.py task=ppl ckpt=PATH [space=w|z] [sampling=end|full] [crop=false] [num_samples=50000]``: the
perceptual path length (``metrics.ppl``) of a checkpoint's generator, with LPIPS on torchvision's VGG-16
(``metrics.vgg16_weights``, the torch hub cache or ``metrics.vgg16_url``).

The JSON holds the value under NVlabs' name (``ppl2_wend`` by default: W, end points, no crop, the StyleGAN2
paper's; ``ppl_wend`` with ``crop=true``, ...) beside the protocol that produced it; the per-pair distances
(before the percentile filter) go to ``out_dir/ppl_distances.npy``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from gan_experiments.errors import ConfigError
from gan_experiments.metrics.lpips import lpips_distance, weights_verified
from gan_experiments.metrics.ppl import (
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    describe_protocol,
    metric_name,
    perceptual_path_length,
)
from gan_experiments.models.capabilities import StyleSpaceGenerator
from gan_experiments.tools.checkpoints import checkpoint_module


def device_of(device: str | None) -> torch.device:
    """``device`` (e.g. cuda:0, cpu), or null: the GPU when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"task.device={device!r} is not a torch device (cpu, cuda, cuda:1, ...)") from err


def ppl_task(cfg: DictConfig, *, ckpt: str, space: str, sampling: str, num_samples: int, epsilon: float,
             crop: bool, batch_size: int, device: str | None) -> dict:
    """The PPL of ``ckpt``'s generator under the task's protocol, seeded by ``seed``."""
    where = device_of(device)
    m = cfg.metrics
    network = lpips_distance(m.get("vgg16_weights"), m.get("vgg16_url"))  # before the checkpoint: fail fast
    module, _ = checkpoint_module(cfg, ckpt)
    if space == "w" and not isinstance(module, StyleSpaceGenerator):
        raise ConfigError("task=ppl space=w needs a StyleGAN checkpoint (a mapping network); use space=z")
    if space == "w" and module.num_classes:
        raise ConfigError("task=ppl space=w: this StyleGAN is conditional and its W has no labels; use space=z")
    result = perceptual_path_length(module.to(where), network.to(where), num_samples=num_samples, epsilon=epsilon,
                                    space=space, sampling=sampling, crop=crop, batch_size=batch_size, seed=cfg.seed,
                                    device=where)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "ppl_distances.npy", result.distances.numpy())
    name = metric_name(space, sampling, crop)
    return {name: result.ppl, "ppl_space": space, "ppl_sampling": sampling, "ppl_epsilon": epsilon,
            "ppl_num_samples": num_samples, "ppl_crop": crop, "ppl_kept": int(result.kept.sum()),
            "ppl_percentiles": [LOW_PERCENTILE, HIGH_PERCENTILE],
            "ppl_protocol_description": describe_protocol(space, sampling, epsilon, num_samples, crop),
            "ppl_network": network.fingerprint, "ppl_network_weights": network.weights_path,
            "ppl_network_weights_verified": weights_verified(network.weights_path),
            "ppl_distances": str(out_dir / "ppl_distances.npy"), "seed": cfg.seed}

