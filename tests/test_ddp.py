"""Distributed data parallel on CPU: two gloo processes (ddp_spawn; plain ddp would relaunch pytest)."""

import math
import subprocess
import sys

import pytest
import torch
from omegaconf import open_dict

from gan_experiments.pipeline import train
from tests.helpers import FAST, ROOT, SMALL_IMAGES, compose_train, small_networks


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_two_ranks_end_with_identical_weights(tmp_path, precision):
    cfg = compose_train(
        [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_gp", "trainer=ddp_spawn", f"trainer.precision={precision}",
         "trainer.accelerator=cpu", "trainer.devices=2", "trainer.limit_train_batches=10",
         "+callbacks.rank_weights._target_=tests.rank_weights.SaveRankWeights",
         f"+callbacks.rank_weights.dirpath={tmp_path}",
         "+callbacks.latents._target_=tests.rank_weights.SaveFirstLatents", f"+callbacks.latents.dirpath={tmp_path}"],
        tmp_path,
    )
    metrics = train(cfg)
    z0, z1 = (torch.load(tmp_path / f"z_rank{r}.pt") for r in (0, 1))
    assert not torch.equal(z0, z1)  # per-rank seeds: the ranks generate different fakes
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for name in rank0:  # batch-norm running statistics are per-rank buffers (rank 0's broadcast each step)
        if "running_" not in name and "num_batches_tracked" not in name:
            assert torch.equal(rank0[name], rank1[name]), name
    assert (tmp_path / "checkpoints/last.ckpt").is_file() and "train/gp" in metrics
    assert all(torch.isfinite(v).all() for v in rank0.values() if v.is_floating_point())
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)
    # each rank ran 10 batches of its own shard: 10 critic steps and 2 generator steps
    assert ckpt["critic_steps"] == 10 and ckpt["global_step"] == 12


@pytest.mark.slow
def test_issue_ddp_spawn_command_succeeds(tmp_path):
    """The exact command of the foundation issue, through train.py."""
    result = subprocess.run(
        [sys.executable, "train.py", "model=dcgan", "loss=wgan_gp", "data=digits", "trainer=ddp_spawn",
         "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}",
         "logger=csv"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "checkpoints/last.ckpt").is_file() and (tmp_path / "samples/epoch_001.png").is_file()


@pytest.mark.slow
def test_ddp_strategy_through_train_py_on_cpu(tmp_path):
    """trainer=ddp re-launches train.py for rank 1 (hence a subprocess here, never inside pytest)."""
    result = subprocess.run(
        [sys.executable, "train.py", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
         "trainer.max_epochs=1", "trainer.limit_train_batches=5", "logger=csv", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 10 and (tmp_path / "metrics.json").is_file()


@pytest.mark.realdata
def test_cyclegan_ranks_stay_in_sync_and_metrics_cover_the_test_split(tmp_path, shared_data):
    """The flagship model under DDP (ddp_spawn stands in for trainer=ddp on CPU): identical weights on both
    ranks, translation metrics computed from shards on all 120 test horses."""
    cfg = compose_train(
        [*FAST, "model=cyclegan", "data=horse2zebra", f"data.root={shared_data}", "data.image_size=32",
         "data.num_workers=0", *small_networks("cyclegan"), "trainer=ddp_spawn", "trainer.accelerator=cpu",
         "trainer.devices=2", "trainer.limit_train_batches=3", "metrics.num_samples=120",
         "metrics.classifier_steps=30", "+callbacks.rank_weights._target_=tests.rank_weights.SaveRankWeights",
         f"+callbacks.rank_weights.dirpath={tmp_path}"],
        tmp_path,
    )
    metrics = train(cfg)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    assert metrics["val/num_a"] == 120 and "val/domain_accuracy_a2b" in metrics
    assert (tmp_path / "samples/a2b_epoch_001.png").is_file()


@pytest.mark.slow
def test_two_ranks_stay_identical_under_the_fp16_scaler(tmp_path):
    """ddp_spawn with trainer=fp16_cpu's real fp16 autocast and GradScaler: the ranks skip the same
    overflowing steps (gradients are all-reduced before the scaler looks at them) and end identical."""
    cfg = compose_train(
        [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_gp", "loss.n_critic=1", "trainer=ddp_spawn",
         "trainer.accelerator=cpu", "trainer.devices=2", "trainer.limit_train_batches=12",
         "+callbacks.rank_weights._target_=tests.rank_weights.SaveRankWeights", f"+callbacks.rank_weights.dirpath={tmp_path}"],
        tmp_path,
    )
    fp16 = compose_train(["trainer=fp16_cpu"]).trainer
    with open_dict(cfg):
        cfg.trainer.precision = None
        cfg.trainer.plugins = fp16.plugins
    metrics = train(cfg)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for name in rank0:
        if "running_" not in name and "num_batches_tracked" not in name:
            assert torch.equal(rank0[name], rank1[name]), name
    checkpoint = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["MixedPrecision"]["scale"] < 65536 and math.isfinite(metrics["train/gp"])
