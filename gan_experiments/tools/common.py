"""What evaluation tasks share: the checkpoint's data, the feature extractor and the real features."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_experiments.data import DatasetNotFoundError
from gan_experiments.data.capabilities import PointMixture
from gan_experiments.errors import ConfigError
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.protocols import Protocol, ProtocolSetup, select_protocol, setup_protocol
from gan_experiments.metrics.reference import RealFeatures
from gan_experiments.metrics.select import build_extractor, vgg16_extractor
from gan_experiments.tools.checkpoints import checkpoint_module


@dataclass
class Evaluation:
    module: object
    datamodule: object
    setup: ProtocolSetup | None  # None on toy2d data

    @property
    def extractor(self) -> FeatureExtractor | None:
        return self.setup.extractor if self.setup else None

    @property
    def real(self) -> RealFeatures | None:
        return self.setup.real if self.setup else None


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


def extractor_for(cfg: DictConfig, datamodule, task: str, features: str | None = None) -> FeatureExtractor:
    """``features`` (default ``metrics.features``) for this data, or a ConfigError (naming ``task``) when
    there is none."""
    m = cfg.metrics
    extractor = build_extractor(features or m.features, datamodule, m.inception_weights, m.cache_dir,
                                m.classifier_steps, m.get("inception_url"))
    if extractor is None:
        raise ConfigError(f"task={task} needs image features: this data has no labels for a classifier and "
                          "no InceptionV3 weights are here; set metrics.inception_weights=PATH")
    return extractor


def protocol_of(cfg: DictConfig) -> Protocol:
    m = cfg.metrics
    return select_protocol(m.get("protocol"), m.num_samples, m.features, m.k, m.get("pr_features", "same"),
                           m.get("protocol_num_fake"))


def load_evaluation(cfg: DictConfig, ckpt: str, task: str, features: bool = True) -> Evaluation:
    """The checkpoint's module (eval mode), its DataModule, and unless toy data the evaluation protocol
    (``metrics.protocol``; null: ``metrics.num_samples`` images of the validation split) made ready:
    its extractors and the cached real features of its image set. ``task`` names the task in messages."""
    module, run_config = checkpoint_module(cfg, ckpt)
    datamodule = datamodule_of(cfg, run_config)
    if not features or isinstance(datamodule, PointMixture):
        return Evaluation(module, datamodule, None)
    protocol, m = protocol_of(cfg), cfg.metrics
    extractor = extractor_for(cfg, datamodule, task, protocol.features)
    setup = setup_protocol(protocol, datamodule, extractor, lambda: vgg16_extractor(m.get("vgg16_weights"), m.get("vgg16_url")),
                           m.cache_dir)
    return Evaluation(module, datamodule, setup)


def info(evaluation: Evaluation) -> dict:
    """What produced the numbers: the protocol, the extractors (with their weights' fingerprints), counts."""
    return evaluation.setup.info()
