"""Train a GAN: python train.py [model=dcgan] [loss=bce] [data=digits] [trainer=default] [key=value ...]."""

import sys

import hydra
from omegaconf import DictConfig

from gan_experiments.cli import report_user_errors
from gan_experiments.pipeline import train
from gan_experiments.sweeps import run_job


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` to a sweeper; in a multirun a failed job is recorded, not fatal."""
    with report_user_errors(cfg):
        return run_job(cfg, train)


if __name__ == "__main__":
    sys.exit(main())
