"""Image folders as users have them: every valid mode and size converts; broken files are named."""

import numpy as np
import pytest
from PIL import Image

from gan_experiments.data import ImageFolderDataModule
from gan_experiments.data.images import BadImageError, load_rgb, to_rgb
from gan_experiments.pipeline import train
from tests.helpers import FAST, compose_train, small_networks

BROKEN = ("empty.png", "truncated.jpg", "notes.jpg")


def write_valid_images(folder):
    """One file per mode (and odd sizes): all must train."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    rgb.save(folder / "rgb.jpg")
    rgb.convert("CMYK").save(folder / "cmyk.jpg")
    rgb.convert("RGBA").save(folder / "rgba.png")
    rgb.convert("P").save(folder / "palette.gif")
    rgb.convert("L").resize((7, 300)).save(folder / "tall_gray.png")
    rgb.convert("1").save(folder / "bilevel.bmp")
    Image.fromarray(rng.integers(0, 65536, (50, 50), dtype=np.uint16)).save(folder / "sixteen_bit.png")
    Image.fromarray(rng.integers(0, 256, (2000, 30, 3), dtype=np.uint8)).save(folder / "huge_strip.webp")
    return rgb


def write_broken_files(folder, rgb):
    (folder / "empty.png").write_bytes(b"")
    rgb.save(folder / "whole.jpg")
    data = (folder / "whole.jpg").read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "notes.jpg").write_text("not an image")


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    write_broken_files(images, write_valid_images(images / "sub"))
    for i in range(8):  # enough for two batches of 4
        Image.new("RGB", (16, 16), (i * 30, 0, 0)).save(images / f"plain{i}.png")
    return images


def test_modes_convert_to_rgb_as_expected():
    sixteen = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16))
    assert np.asarray(to_rgb(sixteen))[0, :, 0].tolist() == [0, 128, 255]  # scaled, not clipped to 255
    transparent = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert np.asarray(to_rgb(transparent)).min() == 255  # composited on white, not black
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))
    assert to_rgb(cmyk).getpixel((0, 0)) == (255, 0, 0)


def test_broken_files_are_skipped_with_one_warning_naming_all(folder):
    data = ImageFolderDataModule(str(folder), image_size=16, batch_size=4, num_workers=0, val_fraction=0.1)
    with pytest.warns(UserWarning) as record:
        data.setup()
    message = "\n".join(str(w.message) for w in record)
    assert "3 of 19 image files" in message and all(name in message for name in BROKEN)
    images = [split[i][0] for split in (data.train_set, data.val_set) for i in range(len(split))]
    assert len(images) == 16 and all(x.shape == (3, 16, 16) for x in images)


def test_bad_images_error_names_every_file_before_training(folder, tmp_path):
    overrides = [*FAST, "data=image_folder", f"data.path={folder}", "data.image_size=16", "data.batch_size=4",
                 "data.num_workers=0", "data.bad_images=error", "metrics=none", *small_networks("dcgan")]
    with pytest.raises(BadImageError, match="data.bad_images=skip") as err:
        train(compose_train(overrides, tmp_path / "run"))
    assert all(name in str(err.value) for name in BROKEN)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_folder_with_broken_files_trains(folder, tmp_path):
    overrides = [*FAST, "data=image_folder", f"data.path={folder}", "data.image_size=16", "data.batch_size=4",
                 "data.num_workers=0", "metrics=none", *small_networks("dcgan")]
    with pytest.warns(UserWarning, match="3 of 19 image files"):
        train(compose_train(overrides, tmp_path))
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_without_the_scan_a_broken_file_is_named_when_read(folder):
    with pytest.raises(BadImageError, match="truncated.jpg cannot be read as an image"):
        load_rgb(folder / "truncated.jpg")
