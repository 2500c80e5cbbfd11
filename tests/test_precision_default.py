"""The default precision: bf16-mixed only where training runs on a CPU with native bf16."""

from pathlib import Path

import pytest

from gan_experiments.config.precision import ENV, cpu_flags, default_precision
from tests.helpers import compose_train

BF16 = {"avx512f", "avx512_bf16"}


@pytest.fixture
def no_env_default(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)  # the suite pins 32-true through it


def test_bf16_only_for_cpu_training_on_cpus_with_native_bf16(no_env_default):
    assert default_precision("auto", cuda_available=False, flags=BF16) == "bf16-mixed"
    assert default_precision("cpu", cuda_available=True, flags=BF16) == "bf16-mixed"  # CPU run on a GPU machine
    assert default_precision("auto", cuda_available=False, flags={"amx_bf16", "amx_tile"}) == "bf16-mixed"
    assert default_precision("auto", cuda_available=False, flags={"avx2", "avx512f", "avx512bw"}) == "32-true"  # emulated
    assert default_precision("auto", cuda_available=True, flags=BF16) == "32-true"  # GPUs: not measured
    assert default_precision("gpu", cuda_available=True, flags=BF16) == "32-true"


def test_the_environment_replaces_the_rule(monkeypatch):
    monkeypatch.setenv(ENV, "16-mixed")
    assert default_precision("cpu", cuda_available=False, flags=BF16) == "16-mixed"


def test_the_trainer_config_resolves_through_the_rule_and_the_cli_overrides_it(no_env_default, monkeypatch, tmp_path):
    import gan_experiments.config.precision as precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: set(BF16))
    assert compose_train(["trainer=cpu"], tmp_path).trainer.precision == "bf16-mixed"
    assert compose_train(["trainer=gpu"], tmp_path).trainer.precision == "32-true"
    assert compose_train(["trainer=cpu", "trainer.precision=32-true"], tmp_path).trainer.precision == "32-true"
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    assert compose_train(["trainer=cpu"], tmp_path).trainer.precision == "32-true"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx512_bf16 amx_tile\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx512_bf16", "amx_tile"}
    assert cpu_flags(Path(tmp_path / "missing")) == set()


def test_a_run_on_a_bf16_cpu_trains_in_bf16_autocast_and_records_it(no_env_default, monkeypatch, tmp_path):
    """Without trainer.precision, train() on such a CPU runs its steps under bf16 autocast (the generator's
    output is bf16 inside the step) and the checkpoint's config records the resolved bf16-mixed."""
    import torch

    import gan_experiments.config.precision as precision
    from gan_experiments.pipeline import train
    from tests.helpers import FAST, SMALL_IMAGES, small_networks

    monkeypatch.setattr(precision, "cpu_flags", lambda: set(BF16))
    record = tmp_path / "dtype.txt"
    train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer=cpu",
                         "+callbacks.dtype._target_=tests.helpers.RecordGeneratorDtype", f"+callbacks.dtype.path={record}"],
                        tmp_path / "run"))
    assert record.read_text() == "torch.bfloat16"
    ckpt = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=False)
    assert ckpt["config"]["trainer"]["precision"] == "bf16-mixed"
