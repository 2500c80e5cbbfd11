"""LightningDataModules: batches are (samples [N, ...], labels [N] or attributes [N, K])."""

from gan_experiments.data.base import DatasetFileError, DatasetNotFoundError, GANDataModule, InMemoryDataset
from gan_experiments.data.celeba import CelebADataModule
from gan_experiments.data.digits import DigitsDataModule
from gan_experiments.data.image_folder import ImageFolderDataModule
from gan_experiments.data.paired import PairedDataModule
from gan_experiments.data.torchvision_data import TorchvisionDataModule
from gan_experiments.data.toy2d import Toy2DDataModule
from gan_experiments.data.unpaired import UnpairedDataModule

__all__ = [
    "CelebADataModule",
    "DatasetFileError",
    "DatasetNotFoundError",
    "DigitsDataModule",
    "GANDataModule",
    "ImageFolderDataModule",
    "InMemoryDataset",
    "PairedDataModule",
    "TorchvisionDataModule",
    "Toy2DDataModule",
    "UnpairedDataModule",
]
