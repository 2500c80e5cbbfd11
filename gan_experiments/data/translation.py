"""What the image-to-image DataModules share (pix2pix's paired and CycleGAN's unpaired layouts): a folder
given as ``data.path`` or a named dataset of a release under ``<data.root>/<name>/`` (downloaded when
internet exists), RGB images, and the reference's transforms: resize to ``load_size`` (default
image_size * 286 / 256), random ``image_size`` crop and horizontal flip for training; resize to
``image_size`` for evaluation (bicubic, antialiased)."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets.utils import download_and_extract_archive
from torchvision.transforms import v2

from gan_experiments.data.base import DatasetNotFoundError, GANDataModule
from gan_experiments.data.image_folder import find_images
from gan_experiments.data.torchvision_data import default_root
from gan_experiments.data.transforms import to_model_range


def has_images(folder: Path) -> bool:
    return folder.is_dir() and bool(find_images(folder))


def square_resize(size: int) -> v2.Resize:
    """To size x size, bicubic and antialiased (the reference resizes PIL images with BICUBIC)."""
    return v2.Resize([size, size], interpolation=v2.InterpolationMode.BICUBIC, antialias=True)


class TranslationDataModule(GANDataModule):
    """Base of the paired and unpaired DataModules, and their constructor: ``path`` (a folder) or ``name`` (a
    dataset of the release under ``<root>/<name>``), the reference's sizes (``load_size`` None: image_size *
    286 / 256), batch 1. Subclasses name their release (``release``, ``datasets``, ``url``,
    ``archive_verb``), list missing folders (``_missing``) and say how to lay the images out
    (``layout_hint``)."""

    release: str = ""
    datasets: tuple[str, ...] = ()
    url: str = ""
    archive_verb: str = "extracting"
    kind: str = ""  # "paired" or "unpaired", for messages

    def __init__(
        self,
        path: str | None = None,
        name: str | None = None,
        root: str | None = None,
        image_size: int = 256,
        load_size: int | None = None,
        channels: int = 3,
        num_classes: int | None = None,
        batch_size: int = 1,
        num_workers: int = 2,
        download: bool = True,
        bad_images: str = "skip",
        check_images: bool = True,
    ):
        super().__init__(batch_size, num_workers, bad_images, check_images)
        if (path is None) == (name is None):
            raise ValueError(f"give exactly one of data.path (a folder) or data.name (a {self.release} dataset)")
        if name is not None and name not in self.datasets:
            raise ValueError(f"data.name must be one of {', '.join(self.datasets)}, got {name!r}")
        if channels != 3:
            raise ValueError(f"{self.kind} translation data is RGB: data.channels must be 3")
        self.name, self.download = name, download
        self.folder = Path(path).expanduser() if path else Path(root or default_root()).expanduser() / name
        self.image_size, self.load_size = image_size, load_size or round(image_size * 286 / 256)
        if self.load_size < image_size:
            raise ValueError(f"data.load_size={self.load_size} must be >= data.image_size={image_size}")
        self.sample_shape = (3, image_size, image_size)
        self._set_num_classes(0, num_classes)
        self.files: dict[str, list[Path]] = {}

    def train_transform(self) -> v2.Compose:
        """Resize, random crop, random flip; applied to several images at once they share the crop and flip."""
        return v2.Compose([square_resize(self.load_size), v2.RandomCrop(self.image_size),
                           v2.RandomHorizontalFlip(), *to_model_range(3)])

    def eval_transform(self) -> v2.Compose:
        return v2.Compose([square_resize(self.image_size), *to_model_range(3)])

    def _missing(self) -> list[str]:
        raise NotImplementedError

    def layout_hint(self) -> str:
        raise NotImplementedError

    def prepare_data(self) -> None:
        if not self._missing():
            return
        reason = "data.download=false" if self.name else f"it is not a named {self.release} dataset (data.path)"
        if self.name is not None and self.download:
            try:
                download_and_extract_archive(self.url.format(name=self.name), str(self.folder.parent))
                if not self._missing():
                    return
                reason = "the downloaded archive lacks them"
            except OSError as err:
                reason = f"the download failed ({err})"
        raise DatasetNotFoundError(
            f"{self.folder} lacks image folders {', '.join(self._missing())} and {reason}. {self.layout_hint()} "
            f"under {self.folder}"
            + ("" if self.name is None else f", e.g. by {self.archive_verb} {self.url.format(name=self.name)} into "
               f"{self.folder.parent} (or set data.root / $GAN_DATA_DIR)")
        )
