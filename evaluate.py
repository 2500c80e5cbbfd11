"""Evaluate a trained GAN: python evaluate.py task=samples ckpt=PATH [out_dir=DIR] [out=FILE.json].

The tasks are the options of the config group ``task`` (``conf/task/<name>.yaml``); ``python evaluate.py
--help`` lists them and ``python evaluate.py task=NAME --cfg job --package task`` shows one task's parameters.
A task's parameters are given by their own names (``num_images=16``, ``hype.serve=true``) or in full
(``task.num_images=16``): they are moved into the task node before Hydra composes.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_experiments.cli import report_user_errors
from gan_experiments.config.task_schemas import task_overrides
from gan_experiments.pipeline import evaluate

TASKS = Path(__file__).resolve().parent / "conf" / "task"


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with report_user_errors(cfg):
        print(evaluate(cfg))


if __name__ == "__main__":
    with report_user_errors():
        sys.argv[1:] = task_overrides(sys.argv[1:], TASKS)
    sys.exit(main())
