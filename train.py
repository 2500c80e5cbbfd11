"""Train a GAN: python train.py [model=dcgan] [loss=bce] [data=digits] [trainer=default] [key=value ...]."""

import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from gan_experiments.cli import refuse_renamed_keys, report_user_errors
from gan_experiments.pipeline import check_optimized_metric, train
from gan_experiments.sweeps import run_job


def train_for_sweeper(cfg: DictConfig) -> dict[str, Any]:
    """``train(cfg)``, refusing (one ``error:`` line naming the key and the metrics there are) an
    ``optimized_metric`` the run did not produce, instead of returning None to the sweeper."""
    metrics = train(cfg)
    check_optimized_metric(cfg.get("optimized_metric"), metrics)
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` to a sweeper; in a multirun a failed job is recorded, not fatal."""
    with report_user_errors(cfg):
        return run_job(cfg, train_for_sweeper)


if __name__ == "__main__":
    refuse_renamed_keys(sys.argv[1:])
    sys.exit(main())
