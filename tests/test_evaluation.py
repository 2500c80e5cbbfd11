"""Metrics in training (single process, DDP, bf16) and the evaluate.py tasks, on real data where it matters."""

import csv
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchvision.utils import save_image

from gan_experiments.metrics.reference import first_images
from gan_experiments.pipeline import evaluate, train
from gan_experiments.tools.compare import extract_list, read_folder, to_model_input
from tests.helpers import CONF, FAST, ROOT, compose_train, scipy_fid, small_networks

METRICS = ["metrics=default", "metrics.num_samples=301", "metrics.every_n_epochs=1", "metrics.classifier_steps=150",
           "metrics.batch_size=64"]
DIGITS16 = ["data.image_size=16", "data.batch_size=16", *small_networks("dcgan")]
KEYS = ["val/fid", "val/kid", "val/is", "val/precision", "val/recall", "val/class_kl", "val/classes_covered"]


def evaluate_cfg(tmp_path, task: str = "metrics", **values):
    """The evaluate config of ``task``; ``values`` by key as on the command line (a task's parameters by their
    own names: ``psis``, ``augment.steps``; shared ones: ``ckpt``, ``metrics.features``)."""
    from hydra import compose, initialize_config_dir

    from gan_experiments.config.task_schemas import task_overrides

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="evaluate", overrides=[f"task={task}", f"paths.output_dir={tmp_path}",
                                                         "metrics.num_samples=301", "metrics.classifier_steps=150"])
    for key, value in values.items():
        (moved,) = task_overrides([f"{key}=x"])
        OmegaConf.update(cfg, moved[: -len("=x")], value)
    return cfg


def test_training_reports_every_metric_with_its_extractor(tmp_path):
    metrics = train(compose_train([*FAST, *DIGITS16, *METRICS, "trainer.max_epochs=2", "logger=csv"], tmp_path))
    for key in KEYS:
        assert math.isfinite(metrics[key]), key
    assert metrics["val/features"].startswith("classifier-")
    assert metrics["val/num_fake"] == 301 and metrics["val/num_real"] == 180  # the digits validation split
    # two evaluations: val/fid is the last one's, best/val/fid the lower of the two Lightning logged
    logged = [float(r["val/fid"]) for r in csv.DictReader(open(tmp_path / "csv/version_0/metrics.csv")) if r.get("val/fid")]
    assert len(logged) == 2 and metrics["val/fid"] == pytest.approx(logged[-1])
    assert metrics["best/val/fid"] == pytest.approx(min(logged)) and (tmp_path / "checkpoints/best.ckpt").is_file()


def test_metrics_under_bf16_mixed_precision(tmp_path):
    metrics = train(compose_train([*FAST, *DIGITS16, *METRICS, "trainer.precision=bf16-mixed"], tmp_path))
    assert all(math.isfinite(metrics[key]) for key in KEYS)


def test_ddp_metrics_equal_a_single_process_on_the_same_images(tmp_path):
    run = tmp_path / "run"
    metrics = train(compose_train([*FAST, *DIGITS16, *METRICS, "trainer=ddp_spawn", "trainer.accelerator=cpu",
                                   "trainer.devices=2", "trainer.limit_train_batches=3"], run))
    single = evaluate(evaluate_cfg(tmp_path / "eval", ckpt=str(run / "checkpoints/last.ckpt")))
    assert single["num_fake"] == 301  # odd: one rank generated a padding row that must not count
    for key in ["fid", "kid", "is", "precision", "recall", "class_kl", "classes_covered"]:
        # float32 feature sums gathered from two ranks add in another order than one process's
        assert metrics[f"val/{key}"] == pytest.approx(single[key], rel=1e-4, abs=1e-6), key


def test_checkpoint_metrics_and_truncation_sweep(tmp_path):
    train(compose_train([*FAST, *DIGITS16, "metrics=none", "trainer.limit_train_batches=20"], tmp_path / "run"))
    ckpt = str(tmp_path / "run/checkpoints/last.ckpt")
    report = evaluate(evaluate_cfg(tmp_path / "m", ckpt=ckpt, out=str(tmp_path / "m.json")))
    assert json.loads((tmp_path / "m.json").read_text())["fid"] == report["fid"]
    assert (tmp_path / "m/memorization_closest_pairs.png").is_file()
    digits = instantiate(compose_train([*DIGITS16]).data)
    digits.setup("fit")
    # the search covers the whole training split, not its first metrics.num_samples (301) images
    assert report["memorization_train_images"] == len(digits.train_set) > 301
    sweep = evaluate(evaluate_cfg(tmp_path / "t", task="truncation", ckpt=ckpt, psis=[0.5, 1.0, 2.0]))
    assert [r["psi"] for r in sweep["sweep"]] == [0.5, 1.0, 2.0]
    assert (tmp_path / "t/truncation.png").is_file() and (tmp_path / "t/truncation_psi_0.5.png").is_file()
    # truncation trades diversity for fidelity: recall falls as psi shrinks
    assert sweep["sweep"][0]["recall"] <= sweep["sweep"][-1]["recall"]


@pytest.mark.realdata
def test_compare_matches_an_independent_scipy_fid_on_mnist(tmp_path, shared_data):
    from gan_experiments.data import TorchvisionDataModule

    dm = TorchvisionDataModule(name="mnist", root=str(shared_data), download=False, num_workers=0)
    dm.setup()
    fakes, _ = first_images(dm.train_set, 400)  # "generated" images: MNIST training digits, as PNG files
    (tmp_path / "fake").mkdir()
    for i, image in enumerate(fakes):
        save_image(image, tmp_path / f"fake/{i:04d}.png", normalize=True, value_range=(-1, 1))
    cfg = evaluate_cfg(tmp_path / "cmp", task="compare", real="mnist", fake=str(tmp_path / "fake"),
                       **{"paths.data_dir": str(shared_data), "metrics.num_samples": 400,
                          "metrics.features": "classifier", "metrics.classifier_steps": 300})
    report = evaluate(cfg)
    assert report["num_real"] == 400 and report["num_fake"] == 400 and report["features"].startswith("classifier-")

    from gan_experiments.metrics.select import build_extractor

    extractor = build_extractor("classifier", dm, None, cfg.metrics.cache_dir, 300)
    real_feats, _ = extract_list(extractor, list(first_images(dm.val_set, 400)[0]))
    fake_feats, _ = extract_list(extractor, to_model_input(read_folder(str(tmp_path / "fake"), 400), 32, 1))
    assert report["fid"] == pytest.approx(scipy_fid(real_feats, fake_feats), rel=1e-3)


@pytest.mark.realdata
def test_mnist_fid_separates_real_from_noise_and_collapse(tmp_path, shared_data):
    from gan_experiments.data import TorchvisionDataModule
    from gan_experiments.metrics.scores import frechet_distance
    from gan_experiments.metrics.select import build_extractor

    dm = TorchvisionDataModule(name="mnist", root=str(shared_data), download=False, num_workers=0)
    extractor = build_extractor("classifier", dm, None, tmp_path, 300)
    test_feats, _ = extract_list(extractor, list(first_images(dm.val_set, 1000)[0]))
    train_imgs, _ = first_images(dm.train_set, 1000)
    train_feats, _ = extract_list(extractor, list(train_imgs))
    noise_feats, _ = extract_list(extractor, list(torch.rand(1000, 1, 32, 32) * 2 - 1))
    collapsed_feats, _ = extract_list(extractor, list(train_imgs[:1].repeat(1000, 1, 1, 1)
                                                     + 0.05 * torch.randn(1000, 1, 32, 32)))
    real_vs_real = frechet_distance(test_feats, train_feats)
    assert frechet_distance(test_feats, noise_feats) > 20 * real_vs_real
    assert frechet_distance(test_feats, collapsed_feats) > 20 * real_vs_real


@pytest.mark.slow
@pytest.mark.realdata
def test_short_mnist_dcgan_run_reports_named_metrics(tmp_path, shared_data):
    """The issue's done-criterion: a short dcgan/mnist run reports finite metrics with the extractor named."""
    result = subprocess.run(
        [sys.executable, "train.py", "model=dcgan", "data=mnist", f"data.root={shared_data}", "data.num_workers=0",
         "trainer.max_epochs=1", "trainer.limit_train_batches=100", "metrics.num_samples=2000", "logger=csv",
         f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert all(math.isfinite(metrics[key]) for key in KEYS)
    assert metrics["val/features"].startswith("classifier-") and metrics["val/num_real"] == 2000


def test_unlabelled_data_without_inception(tmp_path, monkeypatch):
    """auto: trains without the FID family (one warning saying how to enable it); an explicit
    metrics.features=inception without weights stops before the first checkpoint, naming the key."""
    from PIL import Image

    from gan_experiments.config import ConfigError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.new("RGB", (20, 20), (i * 40, 0, 0)).save(tmp_path / f"imgs/{i}.png")
    overrides = [*FAST, "data=image_folder", f"data.path={tmp_path}/imgs", "data.image_size=16",
                 "data.batch_size=2", "data.num_workers=0", "metrics=default", "metrics.every_n_epochs=1"]
    with pytest.warns(UserWarning, match="FID, KID, IS and precision/recall are skipped.*metrics.inception_weights=PATH"):
        metrics = train(compose_train(overrides, tmp_path / "auto"))
    assert "val/fid" not in metrics and (tmp_path / "auto/checkpoints/last.ckpt").is_file()
    with pytest.raises(ConfigError, match="metrics.features=inception needs the InceptionV3 weights.*metrics.inception_weights=PATH"):
        train(compose_train([*overrides, "metrics.features=inception"], tmp_path / "inception"))
    assert not (tmp_path / "inception/checkpoints").exists()


@pytest.mark.realdata
@pytest.mark.slow  # second tier: the CelebA-layout classifier also runs on synthetic faces (test_fresh_clone)
def test_celeba_attribute_classifier_and_metrics(tmp_path, shared_data):
    """CelebA gets a 40-attribute classifier; its features score a GAN, without IS (no single class)."""
    from gan_experiments.data import CelebADataModule
    from gan_experiments.metrics.classifier import load_or_train_classifier

    if not (shared_data / "celeba").is_dir():
        pytest.skip("no CelebA subset in the shared data")
    dm = CelebADataModule(root=str(shared_data), image_size=32, num_workers=0)
    classifier, info = load_or_train_classifier(dm, tmp_path, steps=300)
    assert info["multilabel"] and classifier.num_classes == 40
    attr_rate = dm.val_set.dataset.attributes[dm.val_set.indices].float().mean(0)
    majority = torch.maximum(attr_rate, 1 - attr_rate).mean().item()  # always guessing each attribute's majority
    assert info["val_accuracy"] > majority

    metrics = train(compose_train(
        [*FAST, "data=celeba", f"data.root={shared_data}", "data.image_size=32", "data.batch_size=16",
         "data.num_workers=0", *small_networks("dcgan"), *METRICS, "metrics.num_samples=200"], tmp_path / "run"))
    for key in ["val/fid", "val/kid", "val/precision", "val/recall"]:
        assert math.isfinite(metrics[key]), key
    assert "val/is" not in metrics and "val/class_kl" not in metrics


@pytest.mark.realdata
@pytest.mark.slow  # second tier: the domain classifier also runs on synthetic A/B folders (test_fresh_clone)
def test_domain_classifier_for_unpaired_data(tmp_path, shared_data):
    """python evaluate.py task=train_classifier data=horse2zebra: a horse-vs-zebra classifier."""
    if not (shared_data / "horse2zebra").is_dir():
        pytest.skip("no horse2zebra in the shared data")
    result = subprocess.run(
        [sys.executable, "evaluate.py", "task=train_classifier", "data=horse2zebra", f"data.root={shared_data}",
         "data.image_size=32", "data.num_workers=0", "metrics.classifier_steps=200", f"metrics.cache_dir={tmp_path}",
         f"out={tmp_path}/clf.json", f"hydra.run.dir={tmp_path}/h"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "clf.json").read_text())
    assert report["val_accuracy"] > 0.75 and not report["multilabel"]  # horses vs zebras on the test split


@pytest.mark.realdata
def test_augmentation_task_reports_all_four_accuracies(tmp_path, shared_data):
    """A small cGAN on real MNIST, then the augmentation study at a small budget."""
    run = tmp_path / "cgan"
    train(compose_train(["model=cgan", "data=mnist", f"data.root={shared_data}", "data.num_workers=0",
                         "data.train_subset=4096", *small_networks("cgan"), "trainer.max_epochs=2", "logger=none",
                         "metrics=none", "trainer.enable_progress_bar=false"], run))
    result = evaluate(evaluate_cfg(tmp_path / "aug", task="augmentation", ckpt=str(run / "checkpoints/last.ckpt"),
                                   **{"augment.real_per_class": 10, "augment.fake_per_class": 20,
                                      "augment.curve": [0, 20], "augment.seeds": [0, 1], "augment.steps": 60}))
    for name in ("real_only", "real_std_aug", "real_plus_gan", "real_plus_both"):
        entry = result[f"accuracy/{name}"]
        assert len(entry["runs"]) == 2, name
        assert entry["mean"] == pytest.approx(statistics.mean(entry["runs"]))
        assert entry["std"] == pytest.approx(statistics.stdev(entry["runs"]))
    assert result["accuracy/real_only"]["mean"] > 0.3  # 100 real digits already beat chance by far
    assert result["test_images"] == 10000 and [p["fake_per_class"] for p in result["curve"]] == [0, 20]
    # the verdict follows the numbers: helped iff the mean gain exceeds the larger seed spread
    base, gan = result["accuracy/real_only"], result["accuracy/real_plus_gan"]
    helped = gan["mean"] - base["mean"] > max(base["std"], gan["std"])
    assert result["verdict"].startswith("GAN samples helped" if helped else "GAN samples did not help")
    assert Path(result["plot"]).is_file()
