"""Issue 13, data side: bad input gets one clear line naming the key, file or line; nothing is silently lost."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gan_experiments.cli import USER_ERRORS
from gan_experiments.config import ConfigError
from gan_experiments.data import DigitsDataModule, ImageFolderDataModule, Toy2DDataModule
from gan_experiments.data.base import random_split_indices
from gan_experiments.data.celeba import read_attributes
from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import BadImageError
from gan_experiments.pipeline import train
from gan_experiments.tools.compare import read_folder
from tests.helpers import FAST, ROOT, compose_train, small_networks


def write_plain_images(folder, n, size=(16, 16)):
    """n distinct solid-colour PNGs named 00.png, 01.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, (i * 5 % 256, 0, 0)).save(folder / f"{i:02d}.png")
    return folder


# --- 1. a batch size larger than the dataset ---------------------------------------------------------------

def test_batch_size_larger_than_the_training_set_uses_the_whole_set_with_one_warning(tmp_path):
    data = ImageFolderDataModule(str(write_plain_images(tmp_path / "imgs", 40)), image_size=16, batch_size=64,
                                 num_workers=0, val_fraction=0.05)
    data.setup()
    with pytest.warns(UserWarning, match=r"data\.batch_size=64 is larger than the training set \(38 samples\)"):
        batches = list(data.train_dataloader())
    assert [len(x) for x, _ in batches] == [38]  # one batch of every training image, none dropped
    assert data.batch_size == 38


def test_a_run_on_a_folder_smaller_than_the_default_batch_size_trains(tmp_path):
    folder = write_plain_images(tmp_path / "imgs", 40)
    overrides = [*FAST, "data=image_folder", f"data.path={folder}", "data.image_size=16", "data.num_workers=0",
                 "metrics=none", *small_networks("dcgan")]
    with pytest.warns(UserWarning, match=r"data\.batch_size=64"):
        train(compose_train(overrides, tmp_path / "run"))
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


# --- 2. a validation fraction that leaves nothing to train on ----------------------------------------------

@pytest.mark.parametrize("fraction", [0.99, 1.0])
def test_val_fraction_leaving_no_training_images_names_the_key_and_counts(tmp_path, fraction):
    data = ImageFolderDataModule(str(write_plain_images(tmp_path / "imgs", 40)), val_fraction=fraction)
    with pytest.raises(ConfigError, match=rf"data\.val_fraction={fraction} .*all 40 of the 40 images"):
        data.setup()


def test_val_fraction_too_large_for_digits_and_zero_are_config_errors():
    with pytest.raises(ConfigError, match=r"data\.val_fraction=0\.9999 .*1797"):
        DigitsDataModule(val_fraction=0.9999).setup()
    with pytest.raises(ConfigError, match=r"data\.val_fraction=0 .*no validation images"):
        random_split_indices(40, 0, seed=0)


# --- 3. image models on 2-D points -------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["dcgan", "stylegan", "gan"])
def test_image_models_on_toy2d_are_refused_naming_model_and_data(model):
    with pytest.raises(ConfigError) as err:
        Toy2DDataModule.check_model_config(compose_train(["data=toy2d", f"model={model}"]))
    message = str(err.value)
    assert "model" in message and "data=toy2d" in message and "2-D points" in message
    assert "experiment=toy2d_gan" in message and "data.image_size" in message


def test_the_toy2d_experiments_pass_the_model_check():
    for experiment in ("toy2d_gan", "toy2d_gan_r1", "toy2d_wgan_gp"):
        Toy2DDataModule.check_model_config(compose_train([f"experiment={experiment}"]))
    ImageFolderDataModule.check_model_config(compose_train(["data=digits"]))  # image data: nothing to check


def test_dcgan_on_toy2d_from_train_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="data=toy2d"):
        train(compose_train([*FAST, "data=toy2d"], tmp_path))


# --- 5. malformed CelebA attribute files -------------------------------------------------------------------

NAMES = " ".join(f"Attr_{i}" for i in range(40))


def attribute_file(tmp_path, rows, count=None, names=NAMES):
    path = tmp_path / "list_attr_celeba_subset.txt"
    lines = [str(len(rows) if count is None else count), names, *rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def row(name, values):
    return f"{name} " + " ".join(f"{v:2d}" if isinstance(v, int) else v for v in values)


def test_a_valid_attribute_file_is_read(tmp_path):
    path = attribute_file(tmp_path, [row("1.jpg", [1] * 40), row("2.jpg", [-1] * 39 + [1])])
    names, files, attrs = read_attributes(path)
    assert names[0] == "Attr_0" and files == ["1.jpg", "2.jpg"]
    assert attrs.tolist() == [[1] * 40, [0] * 39 + [1]]


@pytest.mark.parametrize(("rows", "count", "names", "line", "says"), [
    ([row("1.jpg", [1] * 40), row("2.jpg", [1] * 39)], None, NAMES, 4, "39 values"),
    ([row("1.jpg", [1] * 39 + [2])], None, NAMES, 3, "'2'"),
    ([row("1.jpg", [1] * 39 + ["x"])], None, NAMES, 3, "'x'"),
    ([row("1.jpg", [1] * 40)], "one", NAMES, 1, "'one'"),
    ([row("1.jpg", [1] * 40)], 5, NAMES, 1, "5 images"),
    ([row("1.jpg", [1] * 40)], None, "Attr_0 Attr_1", 2, "2 attribute names"),
])
def test_malformed_attribute_files_name_the_file_and_line(tmp_path, rows, count, names, line, says):
    path = attribute_file(tmp_path, rows, count, names)
    with pytest.raises(USER_ERRORS) as err:  # the entry points print it as one `error:` line
        read_attributes(path)
    assert f"{path}, line {line}:" in str(err.value) and says in str(err.value)


# --- 6. a bad image met in a DataLoader worker -------------------------------------------------------------

def folder_with_a_broken_file(tmp_path):
    folder = write_plain_images(tmp_path / "imgs", 12)
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


def test_a_bad_image_in_a_worker_arrives_as_one_line_naming_the_file(tmp_path):
    folder = folder_with_a_broken_file(tmp_path)
    data = ImageFolderDataModule(str(folder), image_size=16, batch_size=4, num_workers=1, val_fraction=0.5,
                                 check_images=False)
    data.setup()
    with pytest.raises(BadImageError) as err:  # broken.png is in one of the two splits
        list(data.train_dataloader())
        list(data.val_dataloader())
    broken = folder / "broken.png"
    assert str(err.value) == (f"{broken} cannot be read as an image (cannot identify image file '{broken}'); "
                              "delete or replace it, or let data.check_images=true (the default) find every "
                              "such file before training")  # not torch's "Caught ... in DataLoader worker"


def test_the_cli_prints_one_error_line_for_a_bad_image_in_a_worker(tmp_path):
    folder = folder_with_a_broken_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "train.py", "data=image_folder", f"data.path={folder}", "data.check_images=false",
         "data.num_workers=1", "data.batch_size=4", "data.val_fraction=0.1", "data.image_size=16", "metrics=none",
         "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "logger=none", *small_networks("dcgan"),
         f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    error = result.stderr[result.stderr.index("error: "):].strip()
    assert error.startswith(f"error: {folder / 'broken.png'} cannot be read as an image") and "\n" not in error


def test_the_advice_for_a_file_that_breaks_after_the_scan_depends_on_check_images(tmp_path):
    folder = write_plain_images(tmp_path / "imgs", 4)
    scanned = ImageFolderDataModule(str(folder), image_size=16, num_workers=0, val_fraction=0.5, check_images=True)
    unscanned = ImageFolderDataModule(str(folder), image_size=16, num_workers=0, val_fraction=0.5, check_images=False)
    scanned.setup()
    unscanned.setup()
    for path in folder.iterdir():
        path.unlink()  # the files vanish after the scan
    with pytest.raises(BadImageError) as err:
        scanned.train_set[0]
    assert "check_images=true" not in str(err.value) and "since data.check_images scanned" in str(err.value)
    with pytest.raises(BadImageError, match="data.check_images=true"):
        unscanned.train_set[0]


# --- 7. image folders: symlinked and unreadable subfolders -------------------------------------------------

def test_symlinked_folders_are_followed_once_without_looping(tmp_path):
    root = write_plain_images(tmp_path / "images", 2)
    outside = write_plain_images(tmp_path / "elsewhere", 3)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "twice").symlink_to(outside, target_is_directory=True)  # the same folder again: read once
    (outside / "loop").symlink_to(root, target_is_directory=True)  # a cycle back to the top
    files = find_images(root)
    assert len(files) == 5 and len({f.resolve() for f in files}) == 5
    assert sum(f.parent.name in ("linked", "twice") for f in files) == 3


def test_unreadable_subfolders_are_named_in_a_warning(tmp_path, monkeypatch):
    root = write_plain_images(tmp_path / "images", 2)
    write_plain_images(root / "locked", 3)
    write_plain_images(root / "open", 1)
    scandir = os.scandir

    def refuse_locked(path="."):
        if os.fspath(path).endswith("locked"):  # as an unreadable folder (chmod 000) is to a non-root user
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_locked)
    with pytest.warns(UserWarning, match=r"(?s)1 folder under .*images cannot be read.*locked: Permission denied"):
        files = find_images(root)
    assert len(files) == 3


# --- 8. task=compare reads folders as training does --------------------------------------------------------

def test_compare_reads_images_as_training_does(tmp_path):
    folder = tmp_path / "fake"
    folder.mkdir()
    Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16)).save(folder / "a_sixteen_bit.png")
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(folder / "b_transparent.png")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(folder / "c_plain.png")
    (folder / "d_broken.png").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"(?s)1 of 4 image files .*d_broken\.png.*Comparing without them"):
        images = read_folder(str(folder), 10)
    assert len(images) == 3 and all(x.dtype == torch.uint8 and x.shape == (3, 8, 8) for x in images)
    assert images[0].unique().tolist() == [128]  # 16-bit mid grey scaled, not clipped to white
    assert images[1].unique().tolist() == [255]  # transparency composited on white
    assert images[2][:, 0, 0].tolist() == [10, 20, 30]


def test_compare_counts_only_readable_images(tmp_path):
    folder = write_plain_images(tmp_path / "fake", 1)
    (folder / "broken.png").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"fake=.* at least 2 readable images \(found 1"), pytest.warns(UserWarning):
        read_folder(str(folder), 10, key="fake")
