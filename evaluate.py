"""Evaluate a trained GAN: python evaluate.py task=samples ckpt=PATH [out_dir=DIR] [out=FILE.json]."""

import sys

import hydra
from omegaconf import DictConfig

from gan_experiments.cli import report_user_errors
from gan_experiments.pipeline import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with report_user_errors(cfg):
        print(evaluate(cfg))


if __name__ == "__main__":
    sys.exit(main())
