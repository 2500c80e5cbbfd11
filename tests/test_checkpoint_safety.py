"""Loading an untrusted checkpoint never runs its code: pickled objects and foreign _target_s are refused."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning import Callback

from gan_experiments.config import ConfigError
from gan_experiments.pipeline import train
from gan_experiments.tools.checkpoints import load_module
from tests.helpers import FAST, ROOT, SMALL_IMAGES, Exploit, compose_train, small_networks


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan")], out))
    return torch.load(out / "checkpoints/last.ckpt", weights_only=True)


def test_a_normal_checkpoint_loads_with_weights_only(good_checkpoint, tmp_path):
    path = tmp_path / "ok.ckpt"
    torch.save(good_checkpoint, path)
    module, config = load_module(path)
    assert type(module).__name__ == "GANModule" and config["model"]["_target_"].startswith("gan_experiments.")


def test_pickled_code_is_refused_and_never_runs(good_checkpoint, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f:
        pickle.dump({**good_checkpoint, "payload": Exploit(marker)}, f)
    with pytest.raises(ConfigError, match="does not load safely|not a checkpoint that loads safely"):
        load_module(path)
    assert not marker.exists()


def _with_node(checkpoint: dict, key: str, value) -> dict:
    """A copy of ``checkpoint`` whose stored config has ``value`` at the dotted ``key``."""
    checkpoint = {**checkpoint, "config": {**checkpoint["config"]}}
    node = checkpoint["config"]
    *parents, last = key.split(".")
    for part in parents:
        node[part] = dict(node[part])
        node = node[part]
    node[last] = value
    return checkpoint


def _write_file_node(target: Path) -> dict:
    """``Path(target).write_text(...)`` as Hydra nodes, reached through attribute paths of this package."""
    return {"_target_": "gan_experiments.pipeline.Path.write_text",
            "_args_": [{"_target_": "gan_experiments.pipeline.Path", "_args_": [str(target)]}, "import os  # pwned"]}


# Each trick a crafted stored config can play, at the key where it sits. `marker` is a file it would write.
TRICKS = {
    "os_system_by_name": ("model", lambda marker: {"_target_": "os.system", "_args_": [f"touch {marker}"]}),
    "attribute_path_to_path_write_text": ("model.optimizer_g.lr", _write_file_node),
    "attribute_path_to_torch_save": ("model.generator.latent_dim", lambda marker: {
        "_target_": "torch.nn.modules.module.torch.save", "_args_": [{}, str(marker)]}),
    "attribute_path_to_os_system": ("data.batch_size", lambda marker: {
        "_target_": "gan_experiments.pipeline.os.system", "_args_": [f"touch {marker}"]}),
    "builtins_exec": ("loss.criterion", lambda marker: {
        "_target_": "builtins.exec", "_args_": [f"open({str(marker)!r}, 'w')"]}),
    "globals_chain": ("model.discriminator.channels", lambda marker: {
        "_target_": "gan_experiments.networks.DCGANGenerator.__init__.__globals__.get", "_args_": ["torch"]}),
    "getattr_chain_to_a_foreign_class": ("model.generator", lambda marker: {
        "_target_": "gan_experiments.pipeline.L.Trainer", "default_root_dir": str(marker)}),
    "function_of_this_package_that_writes": ("model.generator.base_channels", lambda marker: {
        "_target_": "gan_experiments.callbacks.metrics_json.write_json_atomic", "_args_": [
            {"_target_": "gan_experiments.pipeline.Path", "_args_": [str(marker)]}, {}]}),
    "class_of_this_package_of_another_kind": ("model.generator", lambda marker: {
        "_target_": "gan_experiments.callbacks.MetricsJSON", "path": str(marker)}),
    "target_in_a_list_item": ("model.discriminator.norm", lambda marker: [
        "batch", {"_target_": "os.system", "_args_": [f"touch {marker}"]}]),
    "partial_factory": ("model.optimizer_d", lambda marker: {
        "_target_": "gan_experiments.pipeline.os.system", "_partial_": True, "command": f"touch {marker}"}),
    "env_resolver": ("data.root", lambda marker: "${oc.env:HOME}"),
    "create_resolver_builds_a_node": ("model.generator.norm", lambda marker: (
        "${oc.create:'{_target_: os.system, _args_: [touch " + str(marker) + "]}'}")),
    "non_string_target": ("model.generator", lambda marker: {"_target_": {"nested": "os.system"}}),
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_crafted_stored_config_is_refused_before_anything_is_built(good_checkpoint, tmp_path, trick):
    key, make = TRICKS[trick]
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save(_with_node(good_checkpoint, key, make(marker)), path)
    with pytest.raises(ConfigError, match=rf"ckpt={path} asks to build what a checkpoint may not \({key}"):
        load_module(path)
    assert not marker.exists()


def test_the_refusal_names_the_object_the_path_resolves_to(good_checkpoint, tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save(_with_node(good_checkpoint, "model.optimizer_g.lr", _write_file_node(tmp_path / "x")), path)
    with pytest.raises(ConfigError, match=r"resolves to the function pathlib\.Path\.write_text") as err:
        load_module(path)
    assert "allow_targets" in str(err.value)


def test_evaluate_and_train_refuse_a_crafted_checkpoint_and_write_nothing(good_checkpoint, tmp_path):
    """The issue's exploit end to end: evaluate.py task=samples would overwrite a module of the package."""
    victim = tmp_path / "victim.py"
    victim.write_text("original = True\n")
    path = tmp_path / "evil.ckpt"
    torch.save(_with_node(good_checkpoint, "model.optimizer_g.lr", _write_file_node(victim)), path)
    commands = {
        "evaluate": ["evaluate.py", "task=samples", f"ckpt={path}", f"hydra.run.dir={tmp_path / 'eval'}"],
        "train": ["train.py", f"ckpt_path={path}", "logger=none", "metrics=none", "trainer.max_epochs=1",
                  f"hydra.run.dir={tmp_path / 'train'}"],
    }
    for name, command in commands.items():
        done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=300)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 2 and len(errors) == 1, (name, done.stderr[-2000:])
        assert "asks to build what a checkpoint may not" in errors[0] and "Traceback" not in done.stderr
        assert victim.read_text() == "original = True\n"
    assert not list((tmp_path / "eval").rglob("*.png"))


MY_MODULE = """
import os
from gan_experiments.networks import DCGANGenerator


class MyGenerator(DCGANGenerator):
    pass
"""


def test_a_users_own_module_is_built_only_when_allowed(good_checkpoint, tmp_path, monkeypatch):
    (tmp_path / "my_gans.py").write_text(MY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    generator = {**good_checkpoint["config"]["model"]["generator"], "_target_": "my_gans.MyGenerator"}
    path = tmp_path / "mine.ckpt"
    torch.save(_with_node(good_checkpoint, "model.generator", generator), path)
    with pytest.raises(ConfigError, match=r"model\.generator\._target_='my_gans.MyGenerator' is outside"):
        load_module(path)
    module, _ = load_module(path, allow_targets=["my_gans"])
    assert type(module.generator).__name__ == "MyGenerator" and type(module.generator).__module__ == "my_gans"
    # trusting a module does not trust what it imported
    torch.save(_with_node(good_checkpoint, "model.generator", {"_target_": "my_gans.os.system", "_args_": ["true"]}), path)
    with pytest.raises(ConfigError, match=r"resolves to the function posix\.system"):
        load_module(path, allow_targets=["my_gans"])


def test_a_nan_loss_stops_training_naming_the_term_and_keeps_the_last_checkpoint(tmp_path):
    from gan_experiments.callbacks import NonFiniteLossError

    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.max_epochs=3",
                 "+callbacks.poison._target_=tests.helpers.PoisonGenerator"]
    with pytest.raises(NonFiniteLossError, match=r"train/\w+ became nan at batch 0 of epoch 1 .*last.ckpt is the last good"):
        train(compose_train(overrides, tmp_path))
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


class PoisonRealBatch(Callback):
    """Test helper: the real images of one batch become NaN (a corrupt sample), so D's loss is NaN once."""

    def __init__(self, epoch: int = 1, batch: int = 1):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            batch[0].fill_(float("nan"))


POISON_ONE_BATCH = ["+callbacks.poison._target_=tests.test_checkpoint_safety.PoisonRealBatch"]


def test_a_nan_in_one_batch_stops_by_default_naming_d_loss(tmp_path):
    from gan_experiments.callbacks import NonFiniteLossError

    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.max_epochs=2", *POISON_ONE_BATCH]
    with pytest.raises(NonFiniteLossError, match=r"train/d_\w+ became nan at batch 1 of epoch 1"):
        train(compose_train(overrides, tmp_path))


def test_skip_mode_drops_the_poisoned_step_and_trains_on(tmp_path):
    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.max_epochs=2", *POISON_ONE_BATCH,
                 "callbacks.nonfinite_guard.action=skip", "logger=csv"]
    with pytest.warns(UserWarning, match="non-finite gradients at optimizer step .*step skipped"):
        train(compose_train(overrides, tmp_path))
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert ckpt["callbacks"]["NonFiniteLossGuard"]["skipped"] == 1  # D's step on that batch only


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    """A save that dies mid-write leaves the previous last.ckpt whole and no temporary file behind."""
    from gan_experiments.checkpoint_io import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, path)

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert list(path.parent.iterdir()) == [path]


def test_a_checkpoint_write_that_dies_in_training_keeps_the_previous_epochs_last_ckpt(tmp_path, monkeypatch):
    """Training's own checkpoint writes go through the atomic path: a save that dies half-way through
    epoch 1's checkpoint leaves epoch 0's last.ckpt whole and no partial file in checkpoints/."""
    save = torch.save

    def dies_at_epoch_1(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 1:
            f.write(b"half a checkpoint")
            raise OSError("disk full")
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", dies_at_epoch_1)
    with pytest.raises(OSError, match="disk full"):
        train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.max_epochs=2"], tmp_path))
    monkeypatch.undo()
    assert torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 0
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]


def test_training_checkpoints_reach_the_disk_before_they_replace_the_old_file(tmp_path, monkeypatch):
    """Durable as well as whole: each checkpoint training writes is fsynced under a temporary name, then
    renamed over the old one (Lightning's own writer renames without an fsync: a power cut can leave an
    empty last.ckpt)."""
    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))) or fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", str(a), str(b))) or replace(a, b))
    train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.max_epochs=2"], tmp_path))
    monkeypatch.undo()
    renames = [(i, e) for i, e in enumerate(events) if e[0] == "replace" and e[2].endswith(".ckpt")]
    assert [Path(e[2]).name for _, e in renames] == ["last.ckpt", "last.ckpt"]  # one per epoch
    for i, (_, tmp, _target) in renames:
        assert ("fsync", tmp) in events[:i]


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_gradient_norms_are_clipped(tmp_path, precision):
    from tests.rank_weights import recorded_grad_norms

    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_gp", "loss.n_critic=1",
                 f"trainer.precision={precision}", "callbacks.gradient_clipping.max_norm=0.05"]
    clipped = recorded_grad_norms(overrides, tmp_path)
    assert len(clipped) == 8 and max(clipped) <= 0.05 * (1 + 1e-3)
    unclipped = recorded_grad_norms([o for o in overrides if "max_norm" not in o], tmp_path / "unclipped")
    assert max(unclipped) > 0.05  # the bound was active
