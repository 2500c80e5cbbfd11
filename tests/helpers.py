"""Helpers shared by the tests: composing the train config, shrinking networks, the real-data location."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = Path(os.environ.get("GAN_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Small networks and budgets so smoke runs take seconds on two CPU cores.
FAST = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.enable_progress_bar=false",
    "logger=none",
]
# 16 px images, and no image metrics (they have their own tests)
SMALL_IMAGES = ["data.image_size=16", "data.batch_size=16", "metrics=none"]


def compose_train(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """The train config composed exactly as `python train.py <overrides>` would, minus Hydra's run dir."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def compose_evaluate(overrides: list[str]) -> DictConfig:
    """The evaluate config composed as `python evaluate.py <overrides>` would (out_dir must be given)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="evaluate", overrides=overrides + ["hydra.run.dir=."])


def small_networks(model: str) -> list[str]:
    """Overrides that shrink a model's networks for smoke runs."""
    if model in ("dcgan", "cgan"):
        return ["model.generator.base_channels=8", "model.discriminator.base_channels=8"]
    if model == "gan":
        return ["model.generator.hidden_dims=[32,32]", "model.discriminator.hidden_dims=[32,32]"]
    if model == "cyclegan":
        return ["model.generator_ab.base_channels=8", "model.generator_ab.n_blocks=2",
                "model.discriminator_a.base_channels=8", "model.discriminator_a.n_layers=2"]
    if model == "pix2pix":
        return ["model.generator.base_channels=8", "model.discriminator.base_channels=8", "model.discriminator.n_layers=2"]
    return []


def write_random_inception_weights(path: Path) -> Path:
    """A randomly initialised InceptionV3 of torch-fidelity's exact architecture, saved as a weights file
    (no package ships the real weights and there is no internet here). BN variances set to 1 keep the
    activations finite."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    load, url = fe.FeatureExtractorInceptionV3.load_state_dict, fe.load_state_dict_from_url
    fe.FeatureExtractorInceptionV3.load_state_dict = lambda self, state, strict=True: None
    fe.load_state_dict_from_url = lambda *a, **k: {}
    try:
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        fe.FeatureExtractorInceptionV3.load_state_dict, fe.load_state_dict_from_url = load, url
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.fill_(1.0)
    torch.save(net.state_dict(), path)
    return path
