"""Train a GAN: python train.py [model=dcgan] [loss=bce] [data=digits] [trainer=default] [key=value ...]."""

import sys

import hydra
from omegaconf import DictConfig

from gan_experiments.cli import report_user_errors
from gan_experiments.pipeline import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    with report_user_errors(cfg):
        metrics = train(cfg)
    return metrics.get(cfg.optimized_metric) if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    sys.exit(main())
