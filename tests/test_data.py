"""DataModules: shapes, ranges, labels, fixed splits, and clear errors for missing data."""

import numpy as np
import pytest
import torch
from PIL import Image

from gan_experiments.data import (
    DatasetNotFoundError,
    DigitsDataModule,
    ImageFolderDataModule,
    TorchvisionDataModule,
    Toy2DDataModule,
)
from gan_experiments.data.base import random_split_indices


def first_batch(dm):
    dm.prepare_data()
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


def test_digits():
    dm = DigitsDataModule(image_size=32, batch_size=50)
    x, y = first_batch(dm)
    assert x.shape == (50, 1, 32, 32) and x.dtype == torch.float32 and y.shape == (50,)
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1  # background is -1
    assert len(dm.train_set) + len(dm.val_set) == 1797 and len(dm.val_set) == 180
    assert set(dm.train_set.labels.tolist()) == set(range(10)) and dm.num_classes == 10


def test_digits_split_is_fixed_and_disjoint():
    a, b = DigitsDataModule(), DigitsDataModule()
    torch.manual_seed(1)
    a.setup()
    torch.manual_seed(2)
    b.setup()
    assert torch.equal(a.val_set.samples, b.val_set.samples)
    train, val = random_split_indices(1797, 0.1, seed=0)
    assert len(set(train.tolist()) | set(val.tolist())) == 1797 and not set(train.tolist()) & set(val.tolist())


def test_digits_in_rgb():
    x, _ = first_batch(DigitsDataModule(image_size=16, channels=3, batch_size=4))
    assert x.shape == (4, 3, 16, 16) and torch.equal(x[:, 0], x[:, 2])


def test_declared_class_count_must_match():
    with pytest.raises(ValueError, match="data.num_classes=5"):
        DigitsDataModule(num_classes=5)


@pytest.mark.parametrize(("name", "modes", "std"), [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_toy2d_mixtures(name, modes, std):
    dm = Toy2DDataModule(name=name, train_size=20000, batch_size=256)
    x, y = first_batch(dm)
    assert x.shape == (256, 2) and dm.centres.shape == (modes, 2) and dm.std == std
    points, labels = dm.train_set.samples, dm.train_set.labels
    offsets = points - dm.centres[labels]
    assert offsets.std().item() == pytest.approx(std, rel=0.05)
    assert torch.bincount(labels).min() > 20000 / modes * 0.85
    if name == "ring8":
        assert torch.allclose(dm.centres.norm(dim=1), torch.full((8,), 2.0))
    else:
        assert sorted(set(dm.centres[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def write_images(folder, n=6):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        mode, size, ext = [("RGB", (40, 30), "jpg"), ("L", (20, 20), "png"), ("RGBA", (64, 80), "png")][i % 3]
        arr = rng.integers(0, 255, (size[1], size[0], len(mode)) if mode != "L" else (size[1], size[0]), dtype=np.uint8)
        sub = folder / ("nested" if i % 2 else "")
        sub.mkdir(exist_ok=True)
        Image.fromarray(arr, mode).save(sub / f"img{i}.{ext}")
    (folder / "notes.txt").write_text("not an image")


def test_image_folder_is_recursive_and_converts_modes(tmp_path):
    write_images(tmp_path / "imgs")
    dm = ImageFolderDataModule(path=str(tmp_path / "imgs"), image_size=16, batch_size=2, num_workers=0, val_fraction=0.3)
    x, y = first_batch(dm)
    assert x.shape == (2, 3, 16, 16) and x.min() >= -1 and x.max() <= 1 and y.tolist() == [0, 0]
    assert len(dm.train_set) + len(dm.val_set) == 6 and dm.num_classes == 0


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="is not a folder"):
        ImageFolderDataModule(path=str(tmp_path / "missing")).setup()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="holds 0 readable image files"):
        ImageFolderDataModule(path=str(tmp_path / "empty")).setup()


def test_torchvision_dataset_absent_says_where_and_how(tmp_path):
    dm = TorchvisionDataModule(name="mnist", root=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "data.root" in message and "train-images" in message


def test_unknown_torchvision_name():
    with pytest.raises(ValueError, match="data.name must be one of"):
        TorchvisionDataModule(name="svhn")


@pytest.mark.realdata
def test_real_mnist_is_read(shared_data):
    dm = TorchvisionDataModule(name="mnist", root=str(shared_data), download=False, batch_size=128, num_workers=0)
    x, y = first_batch(dm)
    assert len(dm.train_set) == 60000 and len(dm.val_set) == 10000
    assert x.shape == (128, 1, 32, 32) and x.min() == -1 and x.max() > 0.9
    assert 0 <= y.min() and y.max() <= 9
    # MNIST is mostly background: about 80 % of pixels are (near) -1
    assert 0.6 < (x < -0.9).float().mean() < 0.9


@pytest.mark.realdata
def test_real_celeba_subset_is_read_with_attributes(shared_data):
    from gan_experiments.data import CelebADataModule

    if not (shared_data / "celeba").is_dir():
        pytest.skip("no CelebA subset in the shared data")
    dm = CelebADataModule(root=str(shared_data), image_size=32, batch_size=16, num_workers=0)
    x, y = first_batch(dm)
    assert dm.layout() == "subset" and len(dm.train_set) + len(dm.val_set) == 10000
    assert x.shape == (16, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert y.shape == (16, 40) and set(y.unique().tolist()) <= {0, 1}
    assert dm.attribute_names[20] == "Male" and dm.num_classes == 0


def test_celeba_absent_says_where_and_how(tmp_path):
    from gan_experiments.data import CelebADataModule

    with pytest.raises(DatasetNotFoundError, match="img_align_celeba_64/ with list_attr_celeba_subset.txt"):
        CelebADataModule(root=str(tmp_path), download=False).prepare_data()


def write_unpaired(folder, sizes=(3, 5, 2, 2)):
    for split, n in zip(("trainA", "trainB", "testA", "testB"), sizes, strict=True):
        (folder / split).mkdir(parents=True)
        for i in range(n):
            mode = "L" if split == "trainB" and i == 0 else "RGB"  # a grayscale B image, as in horse2zebra
            Image.new(mode, (40, 30), 50 * i).save(folder / split / f"{i}.jpg")


def test_unpaired_layout_epoch_and_transforms(tmp_path):
    from gan_experiments.data import UnpairedDataModule

    write_unpaired(tmp_path / "pairs")
    dm = UnpairedDataModule(path=str(tmp_path / "pairs"), image_size=16, batch_size=2, num_workers=0)
    a, b = first_batch(dm)
    assert a.shape == b.shape == (2, 3, 16, 16) and dm.load_size == 18  # 16 * 286 / 256
    assert len(dm.train_set) == 5 and len(dm.val_set) == 2  # max(|A|, |B|)
    train, val = dm.classifier_splits()
    assert len(train) == 8 and len(val) == 4 and {train[0][1], train[7][1]} == {0, 1}
    assert dm.classifier_labels() == (2, False)


def test_unpaired_missing_folders_are_named(tmp_path):
    from gan_experiments.data import UnpairedDataModule

    (tmp_path / "half" / "trainA").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="lacks image folders trainA, trainB, testA, testB"):
        UnpairedDataModule(path=str(tmp_path / "half")).prepare_data()
    with pytest.raises(DatasetNotFoundError, match=r"horse2zebra.*data.download=false.*unzipping"):
        UnpairedDataModule(name="horse2zebra", root=str(tmp_path), download=False).prepare_data()
    with pytest.raises(ValueError, match="data.name must be one of"):
        UnpairedDataModule(name="cats2dogs")


@pytest.mark.realdata
def test_real_horse2zebra_is_read(shared_data):
    from gan_experiments.data import UnpairedDataModule

    if not (shared_data / "horse2zebra").is_dir():
        pytest.skip("no horse2zebra in the shared data")
    dm = UnpairedDataModule(name="horse2zebra", root=str(shared_data), image_size=64, batch_size=4, num_workers=0)
    a, b = first_batch(dm)
    assert a.shape == b.shape == (4, 3, 64, 64)
    assert len(dm.train_set) == 1334 and len(dm.val_set) == 140
    assert [len(dm.files[s]) for s in ("trainA", "trainB", "testA", "testB")] == [1067, 1334, 120, 140]
