"""Exact resume: 4 epochs straight and 2 epochs + ``ckpt_path`` resume to 4 end with the same weights,
optimizer states and counters (same seed, ``trainer.deterministic=true``, CPU); preemption signals write a
checkpoint that ``ckpt_path=auto`` continues from; resume checkpoints load with ``weights_only``."""

import pickle
import signal
import subprocess
import sys
import time

import pytest
import torch

from gan_experiments.config import ConfigError
from tests.helpers import ROOT, Exploit, assert_resume_is_exact, max_difference, small_networks
from tests.helpers import resume_run as run


def test_dcgan_wgan_gp_with_ema_resumes_exactly(tmp_path):
    overrides = ["model=dcgan", "loss=wgan_gp", "loss.n_critic=2", "model.ema_decay=0.9", "data.batch_size=16",
                 "trainer.limit_train_batches=6", "metrics=none", *small_networks("dcgan")]
    straight, resumed = assert_resume_is_exact(overrides, tmp_path)
    assert straight["critic_steps"] == resumed["critic_steps"] == 24


@pytest.mark.realdata
def test_cyclegan_with_pools_schedules_and_workers_resumes_exactly(tmp_path, shared_data):
    """Random crops and flips run in 2 worker processes; the LR decays over epochs 3-4 (2/3, then 1/3 of the
    initial rate: the reference rule with 3 + 2 epochs, stopped after 4); image pools fill."""
    overrides = ["model=cyclegan", "data=horse2zebra", f"data.root={shared_data}", "data.image_size=32",
                 "data.load_size=36", "data.num_workers=2", "data.batch_size=2", "trainer.limit_train_batches=4",
                 "model.n_epochs=3", "model.n_epochs_decay=2", "model.pool_size=4", "metrics=none",
                 "callbacks.translation_panels=null", *small_networks("cyclegan")]
    straight, resumed = assert_resume_is_exact(overrides, tmp_path)
    assert max_difference(resumed["lr_schedulers"], straight["lr_schedulers"]) == 0
    assert all(len(pool["images"]) == 4 for pool in straight["image_pools"].values())


DCGAN = ["model=dcgan", "data.batch_size=16", "trainer.limit_train_batches=6", "metrics=none", *small_networks("dcgan")]


def test_a_preempted_run_saves_and_continues_where_it_stopped(tmp_path):
    """SIGUSR2 mid-epoch: the batch finishes, checkpoints/preempted.ckpt is written, a handler installed
    before training (a cluster's requeue, here a recorder) still runs, and ``ckpt_path=auto`` in the same
    run directory ends where the uninterrupted run ends."""
    straight = run(DCGAN, tmp_path / "straight", 2)
    calls = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(signum))
    try:
        interrupt = ["+callbacks.signal._target_=tests.rank_weights.SendSignal", "+callbacks.signal.signum=12",
                     "+callbacks.signal.epoch=1", "+callbacks.signal.batch=2"]
        with pytest.raises(SystemExit) as stopped:
            run([*DCGAN, *interrupt], tmp_path / "run", 2)
        assert stopped.value.code == 128 + signal.SIGUSR2
        assert calls == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, previous)
    preempted = torch.load(tmp_path / "run" / "checkpoints" / "preempted.ckpt", weights_only=True)
    assert preempted["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] == 1  # mid-epoch 2
    resumed = run(DCGAN, tmp_path / "run", 2, ckpt_path="auto")
    assert resumed["global_step"] == straight["global_step"]
    assert max_difference(resumed["state_dict"], straight["state_dict"]) <= 1e-6


def test_sigterm_stops_train_py_with_a_checkpoint(tmp_path):
    """A real signal to a real ``python train.py``: it exits after the batch with preempted.ckpt written."""
    command = [sys.executable, str(ROOT / "train.py"), *DCGAN, "trainer.max_epochs=1000", "logger=none",
               "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "checkpoints" / "last.ckpt").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output  # not a success for schedulers and retry loops
    assert (tmp_path / "checkpoints" / "preempted.ckpt").is_file(), output
    assert "received SIGTERM: saved" in output and "ckpt_path=auto" in output


def test_ckpt_path_auto_without_checkpoints_starts_a_new_run(tmp_path):
    checkpoint = run([*DCGAN, "trainer.limit_train_batches=2"], tmp_path, 1, ckpt_path="auto")
    assert checkpoint["epoch"] == 0


def test_resuming_from_a_checkpoint_with_pickled_code_fails_by_key(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    with open(evil, "wb") as f:
        pickle.dump({"payload": Exploit(marker)}, f)
    with pytest.raises(ConfigError, match="ckpt_path=.*does not load safely"):
        run([*DCGAN, "trainer.limit_train_batches=2"], tmp_path / "run", 1, ckpt_path=evil)
    assert not marker.exists()
