"""``evaluate.py task=compare real=DIR_OR_DATASET fake=DIR``: score any folder of images against a folder or
a named dataset. Images of any size and mode are read as RGB as training reads them (``load_rgb``:
grayscale repeated, as the Inception protocol does; 16-bit scaled; transparency composited on white;
files that do not decode named in a warning and left out) and fed at their own size (Inception resizes
to 299 itself); for the classifier they are resized to the size and channels its dataset was trained at."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_warn
from omegaconf import DictConfig
from torchvision.transforms.v2 import functional as TF

from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import describe_unreadable, find_unreadable, load_rgb
from gan_experiments.data.torchvision_data import SPECS, TorchvisionDataModule
from gan_experiments.errors import ConfigError
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.reference import first_images
from gan_experiments.metrics.scores import all_scores
from gan_experiments.tools.common import extractor_for


def read_folder(path: str, limit: int, key: str = "real") -> list[torch.Tensor]:
    """The first ``limit`` image files of a folder (recursive, sorted) as uint8 RGB tensors [3, H, W], read
    as training reads them; those that do not decode are named in a warning and left out. ``key``: the
    option that named the folder, for the error when fewer than 2 are readable."""
    folder = Path(path).expanduser()
    files = find_images(folder)[:limit] if folder.is_dir() else []
    bad = find_unreadable(files)
    if bad:
        rank_zero_warn(describe_unreadable(bad, len(files), str(folder)) + "Comparing without them.")
    left_out = {file for file, _ in bad}
    readable = [file for file in files if file not in left_out]
    if len(readable) < 2:
        raise ConfigError(f"{key}={folder} must be a folder holding at least 2 readable images (found "
                          f"{len(readable)} of {len(files)} image files)")
    return [TF.pil_to_tensor(load_rgb(file)) for file in readable]


def to_model_input(images: list[torch.Tensor], size: int | None, channels: int) -> list[torch.Tensor]:
    """uint8 [3, H, W] -> floats in [-1, 1]; resized (antialiased) to ``size`` when given; to 1 channel
    (ITU-R 601 luma, as PIL's "L") if asked."""
    out = []
    for image in images:
        x = image.float() / 127.5 - 1
        if size is not None and x.shape[1:] != (size, size):
            x = TF.resize(x[None], [size, size], antialias=True)[0].clamp(-1, 1)
        out.append(TF.rgb_to_grayscale(x) if channels == 1 else x)
    return out


@torch.no_grad()
def extract_list(extractor: FeatureExtractor, images: list[torch.Tensor]):
    """Features and logits of images that may differ in size: consecutive same-size images share a batch."""
    feats, logits, batch = [], [], []

    def flush():
        if batch:
            f, lg = extractor(torch.stack(batch))
            feats.append(f)
            logits.append(lg)
            batch.clear()

    for image in images:
        if batch and (image.shape != batch[0].shape or len(batch) == extractor.batch_size):
            flush()
        batch.append(image)
    flush()
    return torch.cat(feats), torch.cat(logits)


def named_dataset(name: str, root: str, image_size: int):
    """The test split of a torchvision dataset at ``image_size``, in its own channels."""
    datamodule = TorchvisionDataModule(name=name, root=root, image_size=image_size, channels=SPECS[name].channels,
                                       num_workers=0)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def compare(cfg: DictConfig, *, real: str, fake: str) -> dict:
    m = cfg.metrics
    if not real or not fake:
        raise ConfigError("task=compare needs real=DIR_OR_DATASET (a folder, or one of "
                          f"{', '.join(SPECS)}) and fake=DIR")
    fakes = read_folder(fake, m.num_samples, key="fake")
    real_name = str(real)
    datamodule = named_dataset(real_name, cfg.paths.data_dir, fakes[0].shape[-1]) if real_name in SPECS else None
    extractor = extractor_for(cfg, datamodule, "compare")
    # the classifier sees its dataset's size and channels; Inception takes RGB at any size
    size, channels = (datamodule.sample_shape[-1], datamodule.sample_shape[0]) if extractor.name == "classifier" else (None, 3)
    if datamodule is not None:
        real_input = list(first_images(datamodule.val_set, m.num_samples)[0])
    else:
        real_input = to_model_input(read_folder(real_name, m.num_samples, key="real"), size, channels)
    real_feats, _ = extract_list(extractor, real_input)
    fake_feats, fake_logits = extract_list(extractor, to_model_input(fakes, size, channels))
    scores = all_scores(real_feats, fake_feats, None if extractor.multilabel else fake_logits, m.k)
    return scores | {"features": extractor.fingerprint, "num_real": len(real_feats), "num_fake": len(fake_feats),
                     "real": real_name, "fake": str(fake)}
