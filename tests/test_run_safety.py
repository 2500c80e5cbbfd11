"""Nothing a user made is lost: a run directory belongs to one run, a resume keeps what the first part
wrote, and a checkpoint that cannot be resumed is named with what is wrong with it in one line."""

from __future__ import annotations

import errno
import subprocess
import sys
import time
import zipfile

import pytest
import torch
from lightning import Callback

from gan_experiments.cli import report_user_errors
from gan_experiments.config import ConfigError
from gan_experiments.pipeline import evaluate, train
from tests.helpers import FAST, ROOT, SMALL_IMAGES, compose_evaluate, compose_train, small_networks

RUN = [*FAST, *SMALL_IMAGES, *small_networks("dcgan")]


def train_into(out, *overrides):
    return train(compose_train([*RUN, *overrides], out))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished one-epoch run (its directory is copied, never changed, by the tests)."""
    out = tmp_path_factory.mktemp("trained")
    train_into(out)
    return out


def copy_run(trained, to):
    import shutil

    shutil.copytree(trained, to)
    return to


# --- a run directory belongs to one run ------------------------------------------------------------------

def test_a_new_run_over_another_runs_checkpoint_is_refused_and_the_checkpoint_kept(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    before = (run / "checkpoints/last.ckpt").read_bytes()
    with pytest.raises(ConfigError, match=r"holds another run's checkpoints \(checkpoints/last.ckpt\).*ckpt_path=auto.*overwrite=true"):
        train_into(run)
    assert (run / "checkpoints/last.ckpt").read_bytes() == before


def test_overwrite_replaces_the_old_run_entirely(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    (run / "samples/epoch_007.png").write_bytes(b"from the old run")
    train_into(run, "overwrite=true")
    assert not (run / "samples/epoch_007.png").exists()  # nothing of the old run is mixed in
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_000.png", "epoch_001.png"]
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 0


def test_train_py_refuses_before_hydra_rewrites_the_old_runs_config(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    config = (run / ".hydra/config.yaml").read_text()
    done = subprocess.run([sys.executable, "train.py", *RUN, f"hydra.run.dir={run}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert "holds another run's checkpoints" in done.stderr
    assert (run / ".hydra/config.yaml").read_text() == config
    assert not (run / ".hydra/overrides.yaml").exists()


LOCK_HOLDER = """
import sys, time
from gan_experiments.run_dir import RunDirLock
lock = RunDirLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_run_into_a_directory_in_use_is_refused(tmp_path):
    run = tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=rf"another run \(pid {holder.pid}\) is writing to {run}"):
            train_into(run)
        done = subprocess.run([sys.executable, "train.py", *RUN, f"hydra.run.dir={run}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and f"another run (pid {holder.pid})" in done.stderr
        assert not (run / ".hydra").exists() and not (run / "checkpoints").exists()
    finally:
        holder.kill()
        holder.wait()
    train_into(run)  # the lock dies with its process
    assert (run / "checkpoints/last.ckpt").is_file()


# --- a resume keeps what the first part wrote ----------------------------------------------------------------

def test_a_resume_keeps_the_untrained_grid_and_drops_the_stale_preemption_checkpoint(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    untrained_grid = (run / "samples/epoch_000.png").read_bytes()
    preempted = run / "checkpoints/preempted.ckpt"
    preempted.write_bytes((run / "checkpoints/last.ckpt").read_bytes())  # as a preemption would leave it
    train_into(run, "ckpt_path=auto", "trainer.max_epochs=2")
    assert (run / "samples/epoch_000.png").read_bytes() == untrained_grid
    assert (run / "samples/epoch_002.png").is_file()
    assert not preempted.exists()  # it must not win a later ckpt_path=auto
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 1


class FailAtFirstBatch(Callback):
    """Test helper: training fails before anything is logged (as a broken data pipeline would)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        raise RuntimeError("broken batch")


FAIL = ["+callbacks.fail._target_=tests.test_run_safety.FailAtFirstBatch"]


def test_a_run_that_fails_before_logging_leaves_no_empty_metrics_file(tmp_path):
    with pytest.raises(RuntimeError, match="broken batch"):
        train_into(tmp_path, *FAIL)
    assert not (tmp_path / "metrics.json").exists()


def test_a_resume_that_fails_keeps_the_earlier_metrics(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    before = (run / "metrics.json").read_text()
    with pytest.raises(RuntimeError, match="broken batch"):
        train_into(run, "ckpt_path=auto", "trainer.max_epochs=2", *FAIL)
    assert (run / "metrics.json").read_text() == before


def test_a_diverged_first_epoch_does_not_name_a_checkpoint_that_does_not_exist(tmp_path):
    from gan_experiments.callbacks import NonFiniteLossError

    poison = ["+callbacks.poison._target_=tests.helpers.PoisonGenerator", "+callbacks.poison.epoch=0"]
    with pytest.raises(NonFiniteLossError, match="no checkpoint had been written yet") as err:
        train_into(tmp_path, *poison)
    assert "last.ckpt" not in str(err.value) and not (tmp_path / "checkpoints/last.ckpt").exists()


# --- a checkpoint that cannot be resumed: one line saying what is wrong ------------------------------------

def _truncated(good: bytes) -> bytes:
    return good[: len(good) // 2]


def _flipped(good: bytes) -> bytes:
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF  # inside the tensor data: torch.load alone would not notice
    return bytes(damaged)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda good: b"", r"is empty \(0 bytes\)"),
    (_truncated, r"cannot be read: it is truncated or damaged"),
    (_flipped, r"is corrupted: its member .* fails its CRC check"),
])
def test_a_damaged_checkpoint_is_named_not_called_code(trained, tmp_path, damage, message):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(damage((trained / "checkpoints/last.ckpt").read_bytes()))
    with pytest.raises(ConfigError, match=rf"ckpt_path={path} {message}") as err:
        train_into(tmp_path / "run", f"ckpt_path={path}", "trainer.max_epochs=2")
    assert "could run code" not in str(err.value)


def test_a_plain_state_dict_is_not_a_checkpoint(trained, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(torch.load(trained / "checkpoints/last.ckpt", weights_only=True)["state_dict"], path)
    with pytest.raises(ConfigError, match=r"holds a plain state_dict \(weights only\), not a train.py checkpoint"):
        train_into(tmp_path / "run", f"ckpt_path={path}", "trainer.max_epochs=2")


def test_another_models_checkpoint_is_named_with_the_first_mismatch(trained, tmp_path):
    with pytest.raises(ConfigError, match=r"written by another model than this run's \(generator\..* is \[.*\] there, \[.*\] here"):
        train_into(tmp_path / "run", f"ckpt_path={trained / 'checkpoints/last.ckpt'}", "trainer.max_epochs=2",
                   "model.generator.base_channels=16")


def test_a_checkpoint_with_non_finite_weights_is_not_resumed(trained, tmp_path):
    checkpoint = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    name = next(k for k, v in checkpoint["state_dict"].items() if v.is_floating_point())
    checkpoint["state_dict"][name] = torch.full_like(checkpoint["state_dict"][name], float("nan"))
    path = tmp_path / "diverged.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(ConfigError, match=rf"holds non-finite values \(state_dict\.{name}\)"):
        train_into(tmp_path / "run", f"ckpt_path={path}", "trainer.max_epochs=2")


def test_auto_falls_back_to_the_newest_checkpoint_that_loads(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    time.sleep(0.01)
    (run / "checkpoints/preempted.ckpt").write_bytes(_truncated((run / "checkpoints/last.ckpt").read_bytes()))
    with pytest.warns(UserWarning, match=r"skipped 1 newer checkpoint.*preempted.ckpt cannot be read.*resuming from .*last.ckpt"):
        train_into(run, "ckpt_path=auto", "trainer.max_epochs=2")
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 1


def test_auto_with_no_loadable_checkpoint_says_so(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    (run / "checkpoints/last.ckpt").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"ckpt_path=auto: no checkpoint in .* can be resumed: .*is empty"):
        train_into(run, "ckpt_path=auto", "trainer.max_epochs=2")


def test_the_cli_reports_a_truncated_checkpoint_in_one_line(trained, tmp_path):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(_truncated((trained / "checkpoints/last.ckpt").read_bytes()))
    assert not zipfile.is_zipfile(path)
    done = subprocess.run([sys.executable, "train.py", *RUN, f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr
    assert errors[0].startswith(f"error: ckpt_path={path} cannot be read: it is truncated or damaged")


# --- bad options: one line, before any work --------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "message"), [
    (["task=samples"], r"task=samples needs a checkpoint: pass ckpt="),
    (["task=samples", "ckpt=x.ckpt", "num_images=0"], r"num_images=0 is invalid: expected an integer >= 1"),
    (["task=interpolate", "ckpt=x.ckpt", "steps=0"], r"steps=0 is invalid: expected an integer >= 2"),
    (["task=augmentation", "ckpt=x.ckpt", "augment.seeds=[]"], r"augment.seeds=\[\] is invalid"),
])
def test_evaluate_refuses_bad_options_before_any_work(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        evaluate(compose_evaluate([*overrides, f"out_dir={tmp_path}"]))


def test_evaluate_refuses_an_out_dir_that_is_a_file(tmp_path):
    (tmp_path / "taken").write_text("a user's file")
    with pytest.raises(ConfigError, match=r"out_dir=.*taken' is invalid: expected a folder"):
        evaluate(compose_evaluate(["task=samples", "ckpt=x.ckpt", f"out_dir={tmp_path / 'taken'}"]))
    assert (tmp_path / "taken").read_text() == "a user's file"


@pytest.mark.parametrize("seed", [2**32, -1])
def test_a_seed_outside_numpys_range_is_named(seed, tmp_path):
    with pytest.raises(ConfigError, match=rf"seed={seed} is invalid: expected an integer in \[0, 2\*\*32 - 1\]"):
        train_into(tmp_path, f"seed={seed}")


def test_translate_never_writes_into_its_input_folder(tmp_path):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(photos / "a.png")
    before = (photos / "a.png").read_bytes()
    for out_dir in (photos, photos / "translated"):
        with pytest.raises(ConfigError, match=r"is inside input_dir=.*choose an out_dir outside"):
            evaluate(compose_evaluate(["task=translate", "ckpt=x.ckpt", f"input_dir={photos}", f"out_dir={out_dir}"]))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"an earlier result")
    with pytest.raises(ConfigError, match=r"already holds 1 file\(s\) this would replace .*overwrite=true"):
        evaluate(compose_evaluate(["task=translate", "ckpt=x.ckpt", f"input_dir={photos}", f"out_dir={out}"]))
    assert (photos / "a.png").read_bytes() == before and (out / "a.png").read_bytes() == b"an earlier result"


def test_a_full_disk_is_one_line_naming_where(capsys):
    with pytest.raises(SystemExit) as exit_:
        with report_user_errors(None):
            raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/checkpoints/last.ckpt.tmp")
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(
        "error: no space left on the device while writing /runs/x/checkpoints/last.ckpt.tmp; free some space")
