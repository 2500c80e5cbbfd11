"""``evaluate.py task=metrics ckpt=PATH``: every metric of a checkpoint against its validation split,
with the memorization check (against the whole training set, or its first ``memorization_train_images``)
and its closest-pairs grid."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.utils import save_image

from gan_experiments.latents import fixed_latents
from gan_experiments.metrics.generator import generator_scores
from gan_experiments.metrics.memorization import memorization
from gan_experiments.metrics.mode_coverage import generator_mode_coverage
from gan_experiments.metrics.reference import real_features
from gan_experiments.tools.common import info, load_evaluation


def checkpoint_metrics(cfg: DictConfig, *, ckpt: str, memorization_train_images: int | None) -> dict:
    ev = load_evaluation(cfg, ckpt, "metrics")
    m = cfg.metrics
    if ev.extractor is None:  # toy2d: mode coverage
        scores, _ = generator_mode_coverage(ev.module, ev.datamodule.centres, ev.datamodule.std, seed=m.seed)
        return scores
    scores, fake_feats, _ = generator_scores(ev.module, ev.setup, m.seed, m.batch_size)
    train_set, num_fake = ev.datamodule.train_set, ev.setup.protocol.num_fake
    train = real_features(ev.extractor, train_set, memorization_train_images, m.cache_dir)
    unseen = real_features(ev.extractor, ev.datamodule.val_set, m.num_samples, m.cache_dir)
    memo = memorization(fake_feats, train.features, unseen.features)
    grid = closest_pairs_grid(ev, memo, train_set, num_fake, m.seed, Path(cfg.out_dir) / "memorization_closest_pairs.png")
    return scores | {"memorized_fraction": memo["memorized_fraction"], "memorization_threshold": memo["threshold"],
                     "memorization_train_images": len(train), "closest_pairs": str(grid)} | info(ev)


def closest_pairs_grid(ev, memo: dict, train_set, num_samples: int, seed: int, path: Path, pairs: int = 16) -> Path:
    """Top row: the generated samples nearest to a training image; bottom row: those training images.
    The fakes are regenerated from the same fixed latents the scores used."""
    labels = ev.real.labels if ev.module.num_classes else None
    z, y = fixed_latents(num_samples, ev.module.latent_dim, labels, seed)
    idx = memo["closest_fake"][:pairs]
    fakes = ev.module.sample(z[idx], None if y is None else y[idx]).float().cpu()
    path.parent.mkdir(parents=True, exist_ok=True)
    nearest_train = torch.stack([torch.as_tensor(train_set[int(i)][0]) for i in memo["closest_train"][:pairs]])
    save_image(torch.cat([fakes, nearest_train.to(fakes.dtype)]), path, nrow=len(idx), normalize=True,
               value_range=(-1, 1))
    return path
