"""What evaluation tasks share: the checkpoint's data, the feature extractor and the real features."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_experiments.config import ConfigError
from gan_experiments.data import DatasetNotFoundError
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.reference import RealFeatures, real_features
from gan_experiments.metrics.select import build_extractor
from gan_experiments.tools.checkpoints import checkpoint_module


@dataclass
class Evaluation:
    module: object
    datamodule: object
    extractor: FeatureExtractor | None
    real: RealFeatures | None


def datamodule_of(cfg: DictConfig, run_config: dict | None = None):
    """``cfg.data`` when the command line chose one, else the data the checkpoint was trained on. A
    checkpoint's data is only read, never downloaded: where it names a dataset that is not here, the
    user chooses (and may download) theirs with ``data=<name>``."""
    node = cfg.get("data")
    if node is None and run_config:
        node = OmegaConf.create(run_config["data"])
        if "download" in node:
            node.download = False
    if node is None:
        raise ConfigError("this task needs a dataset: pass data=<name> (e.g. data=mnist) or ckpt=PATH")
    datamodule = instantiate(node)
    try:
        datamodule.prepare_data()
    except DatasetNotFoundError as err:
        if cfg.get("data") is not None:
            raise
        raise DatasetNotFoundError(f"{err} (this is the data the checkpoint was trained on; a checkpoint's data "
                                   "is never downloaded: pass data=<name> to choose and download yours)") from err
    datamodule.setup("fit")
    return datamodule


def extractor_for(cfg: DictConfig, datamodule) -> FeatureExtractor:
    m = cfg.metrics
    extractor = build_extractor(m.features, datamodule, m.inception_weights, m.cache_dir, m.classifier_steps,
                                m.get("inception_url"))
    if extractor is None:
        raise ConfigError(f"task={cfg.task} needs image features: this data has no labels for a classifier and "
                          "no InceptionV3 weights are here; set metrics.inception_weights=PATH")
    return extractor


def load_evaluation(cfg: DictConfig, features: bool = True) -> Evaluation:
    """The checkpoint's module (eval mode), its DataModule, and unless toy data the extractor and the
    cached real features of the validation split."""
    module, run_config = checkpoint_module(cfg)
    datamodule = datamodule_of(cfg, run_config)
    if not features or hasattr(datamodule, "centres"):
        return Evaluation(module, datamodule, None, None)
    extractor = extractor_for(cfg, datamodule)
    real = real_features(extractor, datamodule.val_set, cfg.metrics.num_samples, cfg.metrics.cache_dir)
    return Evaluation(module, datamodule, extractor, real)


def info(evaluation: Evaluation, num_fake: int) -> dict:
    """What produced the numbers: extractor (with its weights' fingerprint) and the sample counts."""
    return {"features": evaluation.extractor.fingerprint, "num_real": len(evaluation.real), "num_fake": num_fake}
