"""``evaluate.py task=latent_traversal ckpt=PATH``: what each InfoGAN code controls (paper Fig. 2).

``traversal_categorical.png``: one row per value of the categorical code, ``num_images`` (at most 10)
columns of fixed noise, continuous codes at 0. ``traversal_continuous_<j>.png``: one row per category
(fixed noise), columns sweep continuous code j over [-2, 2] (beyond the training range U(-1, 1), as the
paper does). On labelled data (MNIST, digits) the dataset's classifier labels ``purity_samples`` images
per category value: purity is the mean share of the majority class per value; with K = 10 on MNIST a
disentangled code maps its values one-to-one onto digits (``distinct_classes`` = 10).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_experiments.errors import ConfigError
from gan_experiments.metrics.classifier import load_or_train_classifier
from gan_experiments.models import InfoGANModule
from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.common import datamodule_of
from gan_experiments.tools.visual import save_grid


def traversal_grids(module: InfoGANModule, n: int, steps: int, seed: int, out_dir: Path) -> dict[str, str]:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, module.noise_dim, generator=gen)
    k, grids = module.categorical, {}
    rows = [module.sample_codes(noise, torch.full((n,), c), torch.zeros(n, module.continuous)) for c in range(k)]
    grids["categorical"] = str(save_grid(torch.cat(rows), out_dir / "traversal_categorical.png", nrow=n))
    values = torch.linspace(-2, 2, steps)
    for j in range(module.continuous):
        continuous = torch.zeros(k * steps, module.continuous)
        continuous[:, j] = values.repeat(k)
        images = module.sample_codes(noise[:1].expand(k * steps, -1), torch.arange(k).repeat_interleave(steps), continuous)
        grids[f"continuous_{j}"] = str(save_grid(images, out_dir / f"traversal_continuous_{j}.png", nrow=steps))
    return grids


@torch.no_grad()
def code_purity(module: InfoGANModule, classifier, samples: int, seed: int) -> dict:
    """Majority digit and its share among ``samples`` generated images per categorical value."""
    torch.manual_seed(seed)
    majority, shares = [], []
    for c in range(module.categorical):
        noise, _, continuous = module.random_codes(samples)
        images = module.sample_codes(noise, torch.full((samples,), c), continuous)
        predicted = classifier(images.float().cpu().clamp(-1, 1)).argmax(dim=1)
        counts = torch.bincount(predicted, minlength=classifier.num_classes)
        majority.append(int(counts.argmax()))
        shares.append(counts.max().item() / samples)
    return {"purity": sum(shares) / len(shares), "majority_class": majority, "majority_share": shares,
            "distinct_classes": len(set(majority))}


def latent_traversal(cfg: DictConfig, *, ckpt: str, num_images: int, steps: int, purity_samples: int) -> dict:
    module, run_config = checkpoint_module(cfg, ckpt)
    if not isinstance(module, InfoGANModule):
        raise ConfigError(f"task=latent_traversal needs an InfoGAN checkpoint (model=infogan), not {type(module).__name__}")
    result = {"grids": traversal_grids(module, min(num_images, 10), steps, cfg.seed, Path(cfg.out_dir))}
    datamodule = datamodule_of(cfg, run_config)
    if datamodule.num_classes:
        classifier, info = load_or_train_classifier(datamodule, cfg.metrics.cache_dir, cfg.metrics.classifier_steps)
        result |= code_purity(module, classifier, purity_samples, cfg.seed)
        result["classifier_val_accuracy"] = info["val_accuracy"]
    return result
