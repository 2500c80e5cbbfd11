"""``train(cfg)`` and ``evaluate(cfg)``: everything ``train.py`` and ``evaluate.py`` do, importable.

Flow of ``train``: validate the config -> write the resolved config -> seed -> DataModule, LightningModule
(networks, loss and optimizers passed in), callbacks, loggers, Trainer -> fit -> metrics.json, returned.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import get_class
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ProgressBar
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only, rank_zero_warn
from omegaconf import DictConfig, OmegaConf

from gan_experiments.building import build, build_module
from gan_experiments.building import build_loss as build_loss  # re-exported: pipeline.build_loss, as before
from gan_experiments.callbacks import EpochSeed, MetricsJSON, RunConfig
from gan_experiments.callbacks.capabilities import ChecksDataModule
from gan_experiments.callbacks.metrics_json import collect_metrics
from gan_experiments.config import ConfigError, MultirunError, check_multirun_strategy, validate
from gan_experiments.config.task_schemas import check_task, task_parameters
from gan_experiments.data import GANDataModule
from gan_experiments.io import write_json_atomic
from gan_experiments.loggers import offline_wandb_runs
from gan_experiments.run_dir import RunDirLock, check_new_run, checkpoints_in
from gan_experiments.tools.checkpoints import check_fits, read_checkpoint


def build_callbacks(cfg: DictConfig, have_logger: bool) -> list[Callback]:
    """Metric callbacks first (so files and plots written after them see their values), then the rest.
    Entries set to null are skipped, and so are callbacks the trainer settings make pointless:
    ``LearningRateMonitor`` without a logger, a progress bar with ``trainer.enable_progress_bar=false``."""
    configs = [("metrics", cfg.get("metrics"))] + [(f"callbacks.{k}", v) for k, v in (cfg.get("callbacks") or {}).items()]
    show_progress = cfg.trainer.get("enable_progress_bar", True)
    callbacks = []
    for key, node in configs:
        if node is None or "_target_" not in node:
            continue
        callback = build(node, key)
        if isinstance(callback, LearningRateMonitor) and not have_logger:
            continue
        if isinstance(callback, ProgressBar) and not show_progress:
            continue
        callbacks.append(callback)
    return callbacks


def check_data_of(callbacks: list[Callback], datamodule) -> None:
    """Callbacks that depend on the data (those that declare ``ChecksDataModule``) check it before training
    starts, so a wrong data choice fails before the Trainer is built."""
    for callback in callbacks:
        if isinstance(callback, ChecksDataModule):
            callback.check_datamodule(datamodule)


def build_loggers(cfg: DictConfig) -> list[Logger]:
    return [build(node, f"logger.{k}") for k, node in (cfg.get("logger") or {}).items() if node and "_target_" in node]


def data_order_seed(seed: int | None) -> int:
    """The seed of the training data order: the run's ``seed``, or for an unseeded run a fresh random one
    (every call draws again, so each job of a multirun gets its own). Ranks that start as separate
    processes (Lightning's ``ddp``, torchrun, SLURM) draw different ones: ``ShareDataOrderSeed`` makes
    them all use rank 0's before the first batch."""
    return seed if seed is not None else random.SystemRandom().randrange(2**31)


class ShareDataOrderSeed(Callback):
    """At ``setup``, on every rank: the DataModule's ``shuffle_seed`` becomes rank 0's, so all ranks shuffle
    with the same permutation and ``EpochShuffle`` gives them disjoint shards (a no-op on one process)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if datamodule is not None and trainer.world_size > 1:
            datamodule.shuffle_seed = int(trainer.strategy.broadcast(int(datamodule.shuffle_seed), src=0))


def resume_path(ckpt_path: str | None, output_dir: Path, module: L.LightningModule,
                allow_targets: Sequence[str] = ()) -> str | None:
    """The checkpoint to resume from, checked to load safely and to fit ``module``. ``ckpt_path=auto``
    means the newest checkpoint of this run directory (``checkpoints/*.ckpt``, or a Lightning SLURM
    ``hpc_ckpt_*.ckpt``) that passes those checks (newer ones that fail are named and skipped), or a fresh
    start when there is none: a requeued job, or ``python train.py ckpt_path=auto hydra.run.dir=<run dir>``,
    continues where its run stopped."""
    def checked(path: str | Path) -> str:
        check_fits(read_checkpoint(path, key="ckpt_path", allow_targets=allow_targets), module, f"ckpt_path={path}")
        return str(path)

    if ckpt_path != "auto":
        return ckpt_path if ckpt_path is None else checked(ckpt_path)
    candidates = checkpoints_in(output_dir)
    if not candidates:
        rank_zero_info(f"ckpt_path=auto: no checkpoint in {output_dir}, starting a new run")
        return None
    refused = []
    for candidate in candidates:
        try:
            path = checked(candidate)
        except ConfigError as err:
            refused.append(str(err))
            continue
        if refused:
            rank_zero_warn(f"ckpt_path=auto: skipped {len(refused)} newer checkpoint(s) that do not load "
                           f"({'; '.join(refused)}); resuming from {path}")
        else:
            rank_zero_info(f"ckpt_path=auto: resuming from {path}")
        return path
    raise ConfigError(f"ckpt_path=auto: no checkpoint in {output_dir} can be resumed: {'; '.join(refused)}")


@rank_zero_only
def save_config(cfg: DictConfig, output_dir: Path) -> None:
    """The resolved config as ``.hydra/config.yaml`` (Hydra's own copy keeps interpolations unresolved)."""
    path = output_dir / ".hydra" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train the configured GAN and return its final metrics (the content of ``metrics.json``, also when the
    ``metrics_json`` callback is off or writes elsewhere: ``final_metrics``)."""
    validate(cfg)
    check_multirun_strategy(cfg)
    get_class(cfg.data._target_).check_model_config(cfg)  # e.g. an image model on toy2d points
    output_dir = Path(cfg.paths.output_dir)
    check_new_run(output_dir, cfg.get("ckpt_path"), bool(cfg.get("overwrite")))
    with RunDirLock(output_dir):
        return _train(cfg, output_dir)


def _train(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    save_config(cfg, output_dir)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule: GANDataModule = build(cfg.data, "data")
    datamodule.shuffle_seed = data_order_seed(cfg.get("seed"))
    if rank_zero_only.rank == 0:
        datamodule.prepare_data()  # missing data fails here, before any run folder content or W&B run
    module = build_module(cfg)
    ckpt_path = resume_path(cfg.get("ckpt_path"), output_dir, module, tuple(cfg.get("allow_targets") or ()))
    loggers = build_loggers(cfg)
    callbacks = build_callbacks(cfg, have_logger=bool(loggers))
    check_data_of(callbacks, datamodule)
    callbacks.append(RunConfig(OmegaConf.to_container(cfg, resolve=True)))
    callbacks.append(ShareDataOrderSeed())
    if cfg.get("seed") is not None:
        callbacks.insert(0, EpochSeed(cfg.seed))  # first: every epoch-start hook sees the epoch's streams
    trainer: L.Trainer = build(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    try:
        with warnings.catch_warnings():
            # GAN evaluation runs in callbacks; the validation split is for them, not for Lightning's loop
            warnings.filterwarnings("ignore", message=".*val_dataloader.*validation_step.*")
            # EpochShuffle continues a mid-epoch checkpoint with the unseen batches of its epoch
            warnings.filterwarnings("ignore", message=".*checkpoint that ended before the epoch ended.*")
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    finally:
        finish_wandb(loggers)
    return final_metrics(trainer)


def final_metrics(trainer: L.Trainer) -> dict[str, Any]:
    """The run's final metrics from one source, ``collect_metrics(trainer)``: with the ``MetricsJSON``
    callback, what it writes (on a resume: the earlier part's values updated with this part's), computed in
    memory on every rank rather than read back from the file; without it (``callbacks.metrics_json=null``),
    the same dict for this part alone."""
    for callback in trainer.callbacks:
        if isinstance(callback, MetricsJSON):
            return callback.metrics(trainer)
    return collect_metrics(trainer)


def check_optimized_metric(metric: str | None, metrics: dict[str, Any]) -> None:
    """``optimized_metric`` (the value returned to a sweeper such as Optuna) must be one of the run's metrics:
    a ``MultirunError`` (which stops a sweep at once) names it and the metrics that exist."""
    if metric and metric not in metrics:
        available = ", ".join(k for k, v in metrics.items() if isinstance(v, (int, float))) or "none"
        raise MultirunError(f"optimized_metric={metric!r} is not a metric of this run; its metrics are: {available}. "
                            "Set optimized_metric to one of them (or log that metric, e.g. metrics=default for "
                            "val/fid), or null to return nothing")


@rank_zero_only
def finish_wandb(loggers: list[Logger]) -> None:
    """Close the W&B run (so that the next job of a multirun gets its own) and say how to upload it."""
    if not any(isinstance(lg, WandbLogger) for lg in loggers):
        return
    import wandb

    wandb.finish()
    for run in offline_wandb_runs(loggers):
        print(f"W&B run saved offline; upload it with: wandb sync {run}")


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the evaluation task ``cfg.task`` (an option of the ``task`` config group, ``conf/task/<name>.yaml``)
    and return its results (also written to ``cfg.out`` if set). Its parameters are checked first (required
    ones set, values in range: ``check_task``), then the shared keys (``validate``), before anything is read;
    the task function is built from the node (``_partial_``) and called on the whole config."""
    check_task(cfg.get("task"))
    validate(cfg)
    task = build(task_parameters(cfg.task), "task")
    result = task(cfg)
    if cfg.get("out"):
        write_json_atomic(Path(cfg.out), result)
    return result
