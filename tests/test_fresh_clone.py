"""A fresh clone, without ../shared/data, exercises every model family and every evaluate.py task: on the
synthetic datasets of tests/synthetic.py (written by the ``synthetic_data`` fixture) and the embedded
digits, tiny networks train for an epoch or two (CycleGAN, pix2pix, StyleGAN through a change of
resolution, the VAE, InfoGAN, a cGAN), every task of ``evaluate.py`` runs on a checkpoint trained here,
an Optuna search runs two trials, and the parallel and SLURM launchers compose."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from hydra.utils import instantiate
from PIL import Image

from gan_experiments.pipeline import build_module, evaluate, train
from gan_experiments.tools.checkpoints import load_module
from tests.helpers import CONF, FAST, ROOT, compose_evaluate, compose_train, small_networks
from tests.synthetic import (
    CELEBA_ATTRIBUTES,
    LABELLED_CLASSES,
    LABELLED_PER_CLASS,
    PAIRED_SIZE,
    SIZE,
    UNPAIRED_COUNTS,
)

TRANSLATION_METRICS = ["metrics.every_n_epochs=1", "metrics.num_samples=8", "metrics.classifier_steps=40",
                       "metrics.batch_size=8"]


def images_of(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in sorted(folder.iterdir())}


def tool(ckpt: Path, task: str, out_dir: Path, *overrides: str) -> dict:
    return evaluate(compose_evaluate([f"task={task}", f"ckpt={ckpt}", f"out_dir={out_dir}", f"out={out_dir}/{task}.json",
                                      "metrics.classifier_steps=40", *overrides]))


def grid_size(columns: int, rows: int, size: int = SIZE) -> tuple[int, int]:
    """torchvision's make_grid with padding 2: (width, height)."""
    return 2 + columns * (size + 2), 2 + rows * (size + 2)


# --- CycleGAN on unpaired discs (A) and squares (B) ----------------------------------------------------------

@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory, synthetic_data):
    out = tmp_path_factory.mktemp("cyclegan")
    cfg = compose_train(["model=cyclegan", "data=unpaired", f"data.path={synthetic_data.unpaired}",
                         f"data.image_size={SIZE}", "data.batch_size=2", "data.num_workers=0",
                         *small_networks("cyclegan"), *TRANSLATION_METRICS, "trainer.max_epochs=2",
                         "trainer.enable_progress_bar=false", "logger=none"], out)
    torch.manual_seed(cfg.seed)
    initial = build_module(cfg)  # the weights train() starts from (same seed, same construction order)
    return cfg, initial, train(cfg), out


def test_cyclegan_lowers_the_cycle_error_on_held_out_discs(cyclegan_run, synthetic_data):
    cfg, initial, _, out = cyclegan_run
    trained, _ = load_module(out / "checkpoints/last.ckpt")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    a = torch.stack([x for x, _ in datamodule.domain_set("test", 0)])
    with torch.no_grad():
        errors = [F.l1_loss(m.translate(m.translate(a, "a2b"), "b2a"), a).item() for m in (initial, trained)]
    assert errors[1] < 0.8 * errors[0], errors  # measured 0.76 -> 0.50


def test_cyclegan_domain_accuracy_in_metrics_json_is_the_domain_classifiers_verdict(cyclegan_run):
    """val/domain_accuracy_a2b recomputed: the cached A-vs-B classifier's argmax on G_ab(test A)."""
    from gan_experiments.metrics.classifier import load_or_train_classifier

    cfg, _, metrics, out = cyclegan_run
    assert json.loads((out / "metrics.json").read_text()) == metrics
    trained, _ = load_module(out / "checkpoints/last.ckpt")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    classifier, _ = load_or_train_classifier(datamodule, cfg.metrics.cache_dir)
    for direction, source, target in (("a2b", 0, 1), ("b2a", 1, 0)):
        images = torch.stack([x for x, _ in datamodule.domain_set("test", source)])
        with torch.no_grad():
            logits = classifier(trained.translate(images, direction).float())
        expected = (logits.argmax(1) == target).float().mean().item()
        assert metrics[f"val/domain_accuracy_{direction}"] == pytest.approx(expected), direction
    assert metrics["val/num_a"] == UNPAIRED_COUNTS["testA"] and np.isfinite(metrics["val/fid_a2b"])


@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_translate_task_writes_a_changed_image_per_input(cyclegan_run, synthetic_data, tmp_path, direction):
    _, _, _, out = cyclegan_run
    source = synthetic_data.unpaired / ("testA" if direction == "a2b" else "testB")
    result = evaluate(compose_evaluate(["task=translate", f"ckpt={out}/checkpoints/last.ckpt", f"input_dir={source}",
                                        f"direction={direction}", f"out_dir={tmp_path}", "image_size=24"]))
    inputs, outputs = images_of(source), images_of(tmp_path)
    assert result["num_translated"] == len(inputs) and sorted(outputs) == sorted(inputs)
    for name, output in outputs.items():
        assert output.shape == (24, 24, 3), name  # image_size=24: resized on the way in
        resized = np.asarray(Image.open(source / name).convert("RGB").resize((24, 24)), dtype=np.float32)
        assert np.abs(output - resized).mean() > 5, name


def test_train_classifier_task_separates_the_two_domains(tmp_path, synthetic_data):
    """task=train_classifier data=unpaired: its reported accuracy is the cached classifier's on test A + B."""
    from gan_experiments.metrics.classifier import load_or_train_classifier

    cfg = compose_evaluate(["task=train_classifier", "data=unpaired", f"data.path={synthetic_data.unpaired}",
                            f"data.image_size={SIZE}", "data.num_workers=0", "metrics.classifier_steps=40",
                            f"metrics.cache_dir={tmp_path}/cache", f"out={tmp_path}/clf.json", f"out_dir={tmp_path}"])
    report = evaluate(cfg)
    assert json.loads((tmp_path / "clf.json").read_text()) == report and not report["multilabel"]
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    classifier, info = load_or_train_classifier(datamodule, tmp_path / "cache")
    assert info["path"] == report["path"] and Path(report["path"]).is_file()
    _, test = datamodule.classifier_splits()
    images, labels = torch.stack([x for x, _ in test]), torch.tensor([y for _, y in test])
    with torch.no_grad():
        accuracy = (classifier(images).argmax(1) == labels).float().mean().item()
    assert report["val_accuracy"] == pytest.approx(accuracy) and accuracy > 0.9  # discs vs squares


# --- pix2pix on paired outline -> filled discs ----------------------------------------------------------------

def test_pix2pix_lowers_held_out_l1_and_translates_outlines(tmp_path, synthetic_data):
    cfg = compose_train(["model=pix2pix", "data=paired", f"data.path={synthetic_data.paired}", f"data.image_size={PAIRED_SIZE}",
                         "data.batch_size=2", "data.num_workers=0", *small_networks("pix2pix"), *TRANSLATION_METRICS,
                         "trainer.max_epochs=4", "trainer.enable_progress_bar=false", "logger=none"], tmp_path / "run")
    torch.manual_seed(cfg.seed)
    initial = build_module(cfg)
    metrics = train(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    x = torch.stack([a for a, _ in datamodule.val_set])
    y = torch.stack([b for _, b in datamodule.val_set])
    with torch.no_grad():
        before = F.l1_loss(initial.translate(x), y).item()
    assert metrics["val/l1"] < 0.7 * before, (before, metrics["val/l1"])
    assert metrics["val/num_pairs"] == len(x) == 8
    # task=translate on the left halves (outlines): outputs at 32 px that are not the outlines
    halves = tmp_path / "outlines"
    halves.mkdir()
    for file in sorted((synthetic_data.paired / "test").iterdir()):
        Image.open(file).crop((0, 0, PAIRED_SIZE, PAIRED_SIZE)).save(halves / file.name)
    result = evaluate(compose_evaluate(["task=translate", f"ckpt={tmp_path}/run/checkpoints/last.ckpt",
                                        f"input_dir={halves}", f"out_dir={tmp_path}/translated"]))
    inputs, outputs = images_of(halves), images_of(tmp_path / "translated")
    assert result["num_translated"] == 8 and sorted(outputs) == sorted(inputs)
    for name, output in outputs.items():
        assert output.shape == (PAIRED_SIZE, PAIRED_SIZE, 3) and np.abs(output - inputs[name]).mean() > 5, name


# --- StyleGAN on the synthetic CelebA subset, growing 4 -> 8 -> 16 px --------------------------------------

STYLEGAN = ["model=stylegan", "model.generator.latent_dim=32", "model.generator.w_dim=32",
            "model.generator.base_channels=8", "model.generator.max_channels=32", "model.generator.mapping_layers=2",
            "model.fade_images=16", "model.stable_images=16"]


@pytest.fixture(scope="module")
def stylegan_run(tmp_path_factory, synthetic_data):
    """3 batches of 16 per epoch, 2 epochs: 96 images, 16 at 4x4, then 8x8 fades in (16) and is stable
    (16), then 16x16 fades in (16) and is stable."""
    out = tmp_path_factory.mktemp("stylegan")
    cfg = compose_train([*STYLEGAN, "data=celeba", f"data.root={synthetic_data.celeba_root}", f"data.image_size={SIZE}",
                         "data.batch_size=16", "data.num_workers=0", "data.val_fraction=0.25", "trainer.max_epochs=2",
                         "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "logger=csv",
                         "metrics=none"], out)
    return train(cfg), out, out / "checkpoints/last.ckpt"


def test_stylegan_grows_from_4_to_16_px_within_the_run(stylegan_run):
    _, out, ckpt = stylegan_run
    rows = list(csv.DictReader(open(out / "csv/version_0/metrics.csv")))
    resolutions = [float(r["train/resolution"]) for r in rows if r.get("train/resolution")]
    assert resolutions[0] == 4 and resolutions[-1] == 16 and 8 in resolutions, resolutions
    assert resolutions == sorted(resolutions)
    state = torch.load(ckpt, weights_only=False)
    assert state["images_seen"] == 96
    module, _ = load_module(ckpt)
    assert (module.generator.synthesis.level, module.generator.synthesis.alpha) == (2, 1.0)
    assert module.sample(torch.randn(2, 32)).shape == (2, 3, SIZE, SIZE)
    with Image.open(out / "samples/epoch_002.png") as grid:  # sample grids at the data resolution
        assert (grid.size[0] - 2) % (SIZE + 2) == 0


def test_samples_task_is_reproducible_per_seed_including_stylegan_noise(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    runs = {name: tool(ckpt, "samples", tmp_path / name, "num_images=8", *extra) for name, extra in
            {"free": [], "again": [], "seed1": ["seed=1"], "truncated": ["psi=0.2"]}.items()}
    images = {name: images_of(Path(run["images"])) for name, run in runs.items()}
    assert sorted(images["free"]) == [f"{i:06d}.png" for i in range(8)]
    assert all(image.shape == (SIZE, SIZE, 3) for image in images["free"].values())
    stack = {name: np.stack(list(found.values())) for name, found in images.items()}
    assert np.array_equal(stack["free"], stack["again"]) and not np.array_equal(stack["free"], stack["seed1"])
    assert not np.array_equal(stack["free"], stack["truncated"])  # psi = 0.2: other (truncated) z, same seed
    with Image.open(runs["free"]["grid"]) as grid:
        assert grid.size == grid_size(3, 3)


def test_interpolate_in_w_writes_a_grid_and_a_round_trip_gif(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    result = tool(ckpt, "interpolate", tmp_path, "space=w", "method=linear", "num_images=2", "steps=5")
    with Image.open(result["grid"]) as grid:
        assert grid.size == grid_size(5, 2)
        cells = np.asarray(grid.convert("RGB"), dtype=np.float32)
    with Image.open(result["gif"]) as gif:
        assert gif.n_frames == 2 * 5 - 2  # forwards and back
    first, middle = cells[2:2 + SIZE, 2:2 + SIZE], cells[2:2 + SIZE, 2 + 2 * (SIZE + 2):2 + 2 * (SIZE + 2) + SIZE]
    assert np.abs(first - middle).mean() > 1  # the path moves


def test_style_mixing_grids_share_their_sources_and_differ_in_the_mixed_cells(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    result = tool(ckpt, "style_mixing", tmp_path, "num_images=3")
    assert result["num_ws"] == 6 and set(result["grids"]) == {"coarse", "middle"}  # 16 px: 3 levels x 2 styles
    grids = {band: np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) for band, path in result["grids"].items()}
    cell = SIZE + 2
    coarse, middle = grids["coarse"], grids["middle"]
    assert coarse.shape == middle.shape == (grid_size(4, 4)[1], grid_size(4, 4)[0], 3)
    assert np.array_equal(coarse[:cell + 2], middle[:cell + 2]) and np.array_equal(coarse[:, :cell + 2], middle[:, :cell + 2])
    assert np.abs(coarse[cell + 2:, cell + 2:] - middle[cell + 2:, cell + 2:]).mean() > 1


def test_noise_task_std_is_the_spread_of_the_noise_draws(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    result = tool(ckpt, "noise", tmp_path, "num_images=2", "draws=3")
    module, _ = load_module(ckpt)
    ws = module.styles(torch.randn(2, module.latent_dim, generator=torch.Generator().manual_seed(0)))
    draws = []
    for d in range(3):
        torch.manual_seed(1 + d)
        draws.append(module.synthesize(ws).float())
    expected = torch.stack(draws, 1).std(dim=1).mean().item()
    assert result["mean_pixel_std"] == pytest.approx(expected, rel=1e-4) and expected > 0
    with Image.open(result["grid"]) as grid:
        assert grid.size == grid_size(3 + 1, 2)  # the draws and the std map


def test_truncation_sweep_trades_recall_for_the_average_image(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    result = tool(ckpt, "truncation", tmp_path, "psis=[0.0,1.0]", "metrics.num_samples=16", "num_images=4")
    low, full = result["sweep"]
    assert (low["psi"], full["psi"]) == (0.0, 1.0) and low["recall"] <= full["recall"]
    grids = {psi: np.asarray(Image.open(tmp_path / f"truncation_psi_{psi}.png").convert("RGB"), dtype=np.float32)
             for psi in (0.0, 1.0)}
    spread = {psi: np.stack([g[2 + r * (SIZE + 2):2 + r * (SIZE + 2) + SIZE, 2 + c * (SIZE + 2):2 + c * (SIZE + 2) + SIZE]
                             for r in range(2) for c in range(2)]).std(axis=0).mean() for psi, g in grids.items()}
    assert spread[0.0] < 0.8 * spread[1.0], spread  # psi = 0: one w for all; only the noise differs
    assert Path(result["plot"]).is_file()


def test_metrics_task_searches_the_whole_training_split_for_memorization(stylegan_run, tmp_path, synthetic_data):
    _, _, ckpt = stylegan_run
    report = tool(ckpt, "metrics", tmp_path, "metrics.num_samples=16")
    assert json.loads((tmp_path / "metrics.json").read_text()) == report
    assert report["memorization_train_images"] == 48  # 64 images, a quarter held out
    assert report["features"].startswith("classifier") and np.isfinite(report["fid"])
    assert "is" not in report  # CelebA attributes are not classes: no Inception Score
    assert (tmp_path / "memorization_closest_pairs.png").is_file()


def test_edit_along_the_classifier_gradient_raises_smiling(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    result = tool(ckpt, "edit", tmp_path, "attribute=Smiling", "num_images=8")
    assert result["space"] == "w" and result["method"] == "classifier gradient"
    assert result["mean_score_after"] > result["mean_score_before"] and result["share_increased"] >= 0.75
    assert Path(result["grid"]).is_file()


def test_bias_audit_correlations_are_those_of_the_attribute_file(stylegan_run, tmp_path, synthetic_data):
    _, _, ckpt = stylegan_run
    result = tool(ckpt, "bias_audit", tmp_path, "attribute=Smiling", "num_images=8")
    assert list(result["attributes"]) == list(CELEBA_ATTRIBUTES) and result["target_mean_change"] > 0
    # Pearson correlations recomputed from the text file over the training split's rows
    lines = (synthetic_data.celeba_root / "celeba/list_attr_celeba_subset.txt").read_text().split("\n")[2:]
    table = np.array([[v == "1" for v in line.split()[1:]] for line in lines if line], dtype=np.float64)
    from gan_experiments.data import CelebADataModule

    datamodule = CelebADataModule(root=str(synthetic_data.celeba_root), image_size=SIZE, val_fraction=0.25, num_workers=0)
    datamodule.setup("fit")
    train_rows = table[datamodule.train_set.indices]
    smiling = CELEBA_ATTRIBUTES.index("Smiling")
    for k, name in enumerate(CELEBA_ATTRIBUTES):
        expected = np.corrcoef(train_rows[:, k], train_rows[:, smiling])[0, 1]
        assert result["attributes"][name]["real_correlation"] == pytest.approx(expected, abs=1e-5), name
    assert Path(result["chart"]).is_file()


def test_saved_z_directions_edit_without_gradients(stylegan_run, tmp_path):
    _, _, ckpt = stylegan_run
    found = tool(ckpt, "z_directions", tmp_path / "dirs", "num_images=8")
    directions = torch.load(found["file"], weights_only=False)
    vectors = directions["directions"] if isinstance(directions, dict) else directions
    assert tuple(vectors.shape) == (40, 32)  # one w direction per attribute
    result = tool(ckpt, "edit", tmp_path / "edit", "attribute=Smiling", "num_images=8", f"directions={found['file']}")
    assert result["method"] == "saved direction" and result["mean_score_after"] > result["mean_score_before"]


def test_hype_page_mixes_real_validation_faces_with_generated_ones(stylegan_run, tmp_path):
    import base64
    import re

    _, _, ckpt = stylegan_run
    result = tool(ckpt, "hype", tmp_path, "hype.num_real=3", "hype.num_fake=3", "hype.bootstrap=10")
    encoded = re.search(r'atob\("([^"]+)"\)', (tmp_path / "index.html").read_text()).group(1)
    items = json.loads(base64.b64decode(encoded))
    assert result["images"] == 6 and sorted(i["truth"] for i in items) == ["fake"] * 3 + ["real"] * 3
    for item in items:
        with Image.open(tmp_path / item["src"]) as image:
            assert image.size == (SIZE, SIZE)


# --- the VAE on the labelled stripes folder ------------------------------------------------------------------

def test_vae_lowers_its_loss_on_the_stripes_folder_and_reconstructs(tmp_path, synthetic_data):
    overrides = ["model=vae", "data=image_folder", f"data.path={synthetic_data.labelled}", f"data.image_size={SIZE}",
                 "data.batch_size=8", "data.num_workers=0", "data.val_fraction=0.2", "model.encoder.base_channels=8",
                 "model.decoder.base_channels=8", "model.decoder.latent_dim=8", "trainer.max_epochs=8",
                 "trainer.enable_progress_bar=false", "logger=csv", "metrics=none"]
    cfg = compose_train(overrides, tmp_path)
    torch.manual_seed(cfg.seed)
    initial = build_module(cfg)
    train(cfg)
    # the epoch means of train/loss as Lightning's CSVLogger wrote them
    losses = [float(r["train/loss_epoch"]) for r in csv.DictReader(open(tmp_path / "csv/version_0/metrics.csv"))
              if r.get("train/loss_epoch")]
    assert len(losses) == 8 and losses[-1] < 0.9 * losses[0], losses
    trained, _ = load_module(tmp_path / "checkpoints/last.ckpt")
    changed = [name for name, p in trained.state_dict().items() if not torch.equal(p, initial.state_dict()[name])]
    assert any(n.startswith("encoder.") for n in changed) and any(n.startswith("decoder.") for n in changed)
    val_images = LABELLED_CLASSES * LABELLED_PER_CLASS // 5  # data.val_fraction=0.2
    with Image.open(tmp_path / "samples/reconstructions_epoch_008.png") as panel:  # originals over reconstructions
        assert panel.size == grid_size(val_images, 2)
    # task=samples works on the decoder: prior samples of the images' size, not all alike
    result = tool(tmp_path / "checkpoints/last.ckpt", "samples", tmp_path / "samples_task", "num_images=4")
    found = np.stack(list(images_of(Path(result["images"])).values()))
    assert found.shape == (4, SIZE, SIZE, 3) and found.std(axis=0).mean() > 0.5


# --- InfoGAN and a cGAN on the embedded digits --------------------------------------------------------------

DIGITS16 = [f"data.image_size={SIZE}", "data.batch_size=32"]


def test_infogan_trains_and_its_traversal_grids_and_purity_match_the_classifier(tmp_path):
    from gan_experiments.metrics.classifier import load_or_train_classifier

    cfg = compose_train([*FAST, *DIGITS16, "model=infogan", "model.generator.base_channels=8",
                         "model.discriminator.base_channels=8", "metrics=none", "trainer.limit_train_batches=10"], tmp_path)
    torch.manual_seed(cfg.seed)
    initial = build_module(cfg)
    metrics = train(cfg)
    assert np.isfinite(metrics["train/info"])
    trained, _ = load_module(tmp_path / "checkpoints/last.ckpt")
    for net in ("generator", "discriminator"):
        before, after = getattr(initial, net).state_dict(), getattr(trained, net).state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point()), net
    result = tool(tmp_path / "checkpoints/last.ckpt", "latent_traversal", tmp_path / "tools", "num_images=5", "steps=4",
                  "purity_samples=20")
    with Image.open(result["grids"]["categorical"]) as grid:  # 10 categorical values x 5 noise vectors
        assert grid.size == grid_size(5, 10)
    with Image.open(result["grids"]["continuous_0"]) as grid:  # 10 values x 4 steps
        assert grid.size == grid_size(4, 10)
    # the purity recomputed from the digits classifier's predictions on the trained generator
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    classifier, _ = load_or_train_classifier(datamodule, cfg.paths.cache_dir)
    torch.manual_seed(0)  # the task's seed: 20 samples per categorical value, random noise and continuous codes
    majority, shares = [], []
    with torch.no_grad():
        for c in range(10):
            noise, _, continuous = trained.random_codes(20)
            images = trained.sample_codes(noise, torch.full((20,), c), continuous)
            counts = np.bincount(classifier(images.float().clamp(-1, 1)).argmax(1).numpy(), minlength=10)
            majority.append(int(counts.argmax()))
            shares.append(counts.max() / 20)
    assert result["majority_class"] == majority and result["purity"] == pytest.approx(np.mean(shares))
    assert result["distinct_classes"] == len(set(majority))


def test_augmentation_study_on_a_cgan_reports_each_arm_over_its_seeds(tmp_path):
    run = tmp_path / "cgan"
    train(compose_train([*FAST, *DIGITS16, "model=cgan", *small_networks("cgan"), "metrics=none"], run))
    result = tool(run / "checkpoints/last.ckpt", "augmentation", tmp_path / "aug", "augment.real_per_class=5",
                  "augment.fake_per_class=5", "augment.curve=[0,5]", "augment.seeds=[0,1]", "augment.steps=20",
                  "augment.batch_size=32")
    for name in ("real_only", "real_std_aug", "real_plus_gan", "real_plus_both"):
        entry = result[f"accuracy/{name}"]
        runs = entry["runs"]
        assert len(runs) == 2 and entry["mean"] == pytest.approx(sum(runs) / 2), name
    assert result["accuracy/real_only"]["mean"] > 0.2  # 50 real digits beat chance (0.1)
    assert result["test_images"] == 180  # the digits validation split
    assert [p["fake_per_class"] for p in result["curve"]] == [0, 5] and Path(result["plot"]).is_file()


# --- task=compare: two folders through InceptionV3 (random weights of its exact architecture) ----------------

def test_compare_scores_a_folder_against_itself_near_zero_and_against_another_higher(tmp_path, synthetic_data):
    from tests.helpers import write_random_inception_weights

    weights = write_random_inception_weights(tmp_path / "inception.pth")
    discs, squares = synthetic_data.unpaired / "testA", synthetic_data.unpaired / "testB"

    def compare(real, fake):
        return evaluate(compose_evaluate(["task=compare", f"real={real}", f"fake={fake}", f"out_dir={tmp_path}",
                                          f"metrics.inception_weights={weights}", "metrics.num_samples=8",
                                          "metrics.batch_size=8"]))

    same, other = compare(discs, discs), compare(discs, squares)
    assert same["features"].startswith("inception") and (same["num_real"], same["num_fake"]) == (8, 8)
    assert abs(same["fid"]) < 1e-3 * other["fid"] and other["fid"] > 0, (same["fid"], other["fid"])


# --- sweeps: an Optuna search on the synthetic domains; the parallel and SLURM launchers -------------------

def run_train(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_optuna_search_reports_its_best_trial(tmp_path, synthetic_data):
    result = run_train(["hparams_search=cyclegan_optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
                        "model=cyclegan", "data=unpaired", f"data.path={synthetic_data.unpaired}", f"data.image_size={SIZE}",
                        "data.batch_size=2", "data.num_workers=0", *small_networks("cyclegan"), *TRANSLATION_METRICS,
                        "trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.enable_progress_bar=false",
                        "logger=none", f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    trials = {}
    for job in sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit()):
        config = yaml.safe_load((job / ".hydra/config.yaml").read_text())
        value = json.loads((job / "metrics.json").read_text())["val/fid_a2b"]
        trials[value] = {"model.lambda_cycle": config["model"]["lambda_cycle"],
                         "model.lambda_identity": config["model"]["lambda_identity"]}
    assert len(trials) == 2  # two trials with their own results
    assert best["best_value"] == pytest.approx(min(trials)) and best["best_params"] == pytest.approx(trials[min(trials)])


def test_parallel_launcher_runs_each_seed_as_its_own_complete_job(tmp_path):
    result = run_train(["-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "seed=1,2", *FAST, *DIGITS16,
                        *small_networks("dcgan"), "metrics=none", "trainer.limit_train_batches=2",
                        f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "sweep_summary.json").read_text())
    assert (summary["completed"], summary["failed"]) == (2, 0)
    weights = []
    for job, seed in (("0", 1), ("1", 2)):
        assert yaml.safe_load((tmp_path / job / ".hydra/config.yaml").read_text())["seed"] == seed
        weights.append(torch.load(tmp_path / job / "checkpoints/last.ckpt", weights_only=False)["state_dict"])
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # seeds 1 and 2 trained apart


def test_slurm_launcher_composes_one_task_per_gpu_and_admits_ddp(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from hydra.utils import get_class
    from omegaconf import OmegaConf, open_dict

    from gan_experiments.config import check_multirun_strategy
    from gan_experiments.config.validation import MultirunError

    def multirun(launcher: str):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="train", return_hydra_config=True,
                          overrides=[f"hydra/launcher={launcher}", "trainer=ddp", "trainer.devices=4"])
        with open_dict(cfg):
            cfg.hydra.mode = RunMode.MULTIRUN
            cfg.hydra.runtime.output_dir = str(tmp_path)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        return cfg

    try:
        slurm = multirun("slurm")
        launcher = OmegaConf.to_container(slurm.hydra.launcher, resolve=True)
        assert get_class(launcher["_target_"]).__name__ == "SlurmLauncher"
        assert (launcher["tasks_per_node"], launcher["gpus_per_node"], launcher["nodes"]) == (4, 4, 1)
        check_multirun_strategy(slurm)  # SLURM starts the ranks itself: ddp is safe
        parallel = multirun("parallel")
        assert get_class(parallel.hydra.launcher._target_).__name__ == "JoblibLauncher"
        with pytest.raises(MultirunError, match="re-launches the command line for every rank"):
            check_multirun_strategy(parallel)  # joblib jobs would each re-run the sweep under ddp
    finally:
        HydraConfig.instance().cfg = None
