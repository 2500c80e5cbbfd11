"""PairedDataModule (pix2pix layout): shared crop/flip, directions, split fallback, errors, real facades."""

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from gan_experiments.data import DatasetNotFoundError, PairedDataModule
from gan_experiments.data.images import BadImageError
from gan_experiments.data.paired import PIX2PIX_URL
from tests.helpers import compose_train

RED, BLUE = (255, 0, 0), (0, 0, 255)


def write_pairs(folder, split, n, left=None, right=None, size=(24, 12)):
    """n side-by-side AB PNGs of size (w, h): a random half image twice, or the colours left | right."""
    (folder / split).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split) * 100 + n)
    w, h = size
    for i in range(n):
        if left is None:
            half = rng.integers(0, 256, (h, w // 2, 3), dtype=np.uint8)
            pixels = np.concatenate([half, half], axis=1)
        else:
            pixels = np.concatenate([np.full((h, w // 2, 3), left, np.uint8),
                                     np.full((h, w - w // 2, 3), right, np.uint8)], axis=1)
        Image.fromarray(pixels).save(folder / split / f"{i}.png")  # lossless, so equal halves stay equal


def model_range(rgb) -> torch.Tensor:
    """An 8-bit colour in the [-1, 1] model range, as [1, 3, 1, 1]."""
    return (torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1).view(1, 3, 1, 1)


def first_batch(dm):
    dm.prepare_data()
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_identical_halves_get_the_same_crop_and_flip(tmp_path, direction):
    write_pairs(tmp_path, "train", 6)
    write_pairs(tmp_path, "test", 2)
    dm = PairedDataModule(path=str(tmp_path), image_size=8, load_size=12, batch_size=6, num_workers=0,
                          direction=direction)
    torch.manual_seed(0)
    for _ in range(3):  # several random crops and flips, each shared by input and target
        x, y = first_batch(dm)
        assert x.shape == y.shape == (6, 3, 8, 8) and x.dtype == torch.float32
        assert torch.equal(x, y) and x.min() >= -1 and x.max() <= 1 and x.std() > 0.2
    assert len(dm.train_set) == 6 and len(dm.val_set) == 2 and dm.load_size == 12
    vx, vy = dm.val_set[0]
    assert vx.shape == (3, 8, 8) and torch.equal(vx, vy)


@pytest.mark.parametrize(("direction", "inputs", "targets"), [("AtoB", RED, BLUE), ("BtoA", BLUE, RED)])
def test_direction_picks_the_halves(tmp_path, direction, inputs, targets):
    write_pairs(tmp_path, "train", 2, RED, BLUE, size=(31, 16))  # odd width: B is one pixel wider
    write_pairs(tmp_path, "test", 1, RED, BLUE, size=(31, 16))
    dm = PairedDataModule(path=str(tmp_path), image_size=16, batch_size=2, num_workers=0, direction=direction)
    x, y = first_batch(dm)
    assert torch.allclose(x, model_range(inputs).expand_as(x), atol=0.05)  # every pixel of the left half
    assert torch.allclose(y, model_range(targets).expand_as(y), atol=0.05)
    train, val = dm.classifier_splits()
    assert dm.classifier_labels() == (2, False) and len(train) == 4 and len(val) == 2
    (image0, label0), (image1, label1) = val[0], val[1]
    assert (label0, label1) == (0, 1)  # inputs first, then targets
    assert torch.equal(image0, dm.val_set[0][0]) and torch.equal(image1, dm.val_set[0][1])


def test_eval_split_falls_back_to_val_and_is_deterministic(tmp_path):
    write_pairs(tmp_path, "train", 2)
    write_pairs(tmp_path, "val", 3)
    (tmp_path / "test").mkdir()  # present but empty: val/ is used
    dm = PairedDataModule(path=str(tmp_path), image_size=8, num_workers=0)
    dm.setup()
    assert dm.eval_folder() == tmp_path / "val" and len(dm.val_set) == 3
    torch.manual_seed(1)
    a = dm.val_set[2]
    torch.manual_seed(2)
    b = dm.val_set[2]
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_missing_data_and_bad_arguments_are_explained(tmp_path):
    (tmp_path / "half" / "train").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match=r"half lacks image folders train, test \(or val\)"):
        PairedDataModule(path=str(tmp_path / "half")).prepare_data()
    with pytest.raises(DatasetNotFoundError) as err:
        PairedDataModule(name="facades", root=str(tmp_path / "empty"), download=False).prepare_data()
    message = str(err.value)
    assert str(tmp_path / "empty" / "facades") in message and PIX2PIX_URL.format(name="facades") in message
    assert "data.download=false" in message
    with pytest.raises(ValueError, match="data.direction"):
        PairedDataModule(path=str(tmp_path), direction="AB")
    with pytest.raises(ValueError, match="data.name must be one of"):
        PairedDataModule(name="horse2zebra")
    with pytest.raises(ValueError, match="exactly one of data.path"):
        PairedDataModule(path=str(tmp_path), name="facades")



def test_images_that_are_not_side_by_side_pairs_are_listed_and_left_out(tmp_path):
    write_pairs(tmp_path, "train", 3)  # 24 x 12: pairs of 12 x 12 halves
    write_pairs(tmp_path, "test", 1)
    Image.new("RGB", (20, 20)).save(tmp_path / "train" / "square.png")  # a plain photo
    Image.new("RGB", (1, 8)).save(tmp_path / "train" / "thin.png")
    dm = PairedDataModule(path=str(tmp_path), image_size=8, num_workers=0)
    with pytest.warns(UserWarning) as record:
        dm.setup()
    message = "\n".join(str(w.message) for w in record)
    assert "2 of 5 image files" in message and "side by side" in message
    assert "square.png: 20 x 20 px" in message and "thin.png: 1 x 8 px" in message
    assert sorted(f.name for f in dm.files["train"]) == ["0.png", "1.png", "2.png"] and len(dm.train_set) == 3


def test_a_folder_of_no_pairs_is_refused(tmp_path):
    for split in ("train", "test"):
        write_pairs(tmp_path, split, 2, size=(16, 16))  # square photos, as in an unpaired dataset
    with pytest.raises(BadImageError, match=r"(?s)2 of 2 image files in .*train.*None is left.*data=unpaired"):
        PairedDataModule(path=str(tmp_path), image_size=8, num_workers=0).setup()
    with pytest.raises(BadImageError, match=r"(?s)2 of 2 image files .*data.bad_images=skip"):
        PairedDataModule(path=str(tmp_path), image_size=8, num_workers=0, bad_images="error").setup()


@pytest.mark.parametrize(("size", "says"), [((1, 8), "1 x 8 px"), ((16, 16), "16 x 16 px")])
def test_without_the_scan_a_file_that_is_no_pair_is_named_when_read(tmp_path, size, says):
    write_pairs(tmp_path, "train", 1, RED, BLUE, size=size)
    write_pairs(tmp_path, "test", 1, RED, BLUE, size=size)
    dm = PairedDataModule(path=str(tmp_path), image_size=8, num_workers=0, check_images=False)
    dm.setup()
    with pytest.raises(BadImageError, match=rf"0\.png is {says}: not two images side by side"):
        dm.train_set[0]


@pytest.mark.realdata
def test_real_facades_from_the_config(shared_data, tmp_path):
    if not (shared_data / "facades").is_dir():
        pytest.skip("no facades in the shared data")
    overrides = ["data=facades", f"data.root={shared_data}", "data.image_size=64", "data.batch_size=4",
                 "data.num_workers=0", "data.download=false"]
    cfg = compose_train(overrides, tmp_path)
    dm = instantiate(cfg.data)
    assert dm.direction == "BtoA" and dm.name == "facades"
    x, y = first_batch(dm)
    assert x.shape == y.shape == (4, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
    assert len(dm.train_set) == 400 and len(dm.val_set) == 106 and dm.eval_folder().name == "test"
    label_map, photo = dm.val_set[0]
    assert label_map.shape == photo.shape == (3, 64, 64) and (label_map - photo).abs().mean() > 0.1
    train, val = dm.classifier_splits()
    assert len(train) == 800 and len(val) == 212
