"""Training-time parts that are not networks: image pools, learning-rate schedules, DiffAugment, ADA's
augmentation pipeline and its adaptive-p controller, the classifier training loop."""

from gan_experiments.training.ada import AdaptiveAugment, AugmentPipe
from gan_experiments.training.classifier import fit_classifier
from gan_experiments.training.diffaugment import DiffAugment
from gan_experiments.training.image_pool import ImagePool
from gan_experiments.training.schedules import LinearDecay, ProgressiveSchedule

__all__ = ["AdaptiveAugment", "AugmentPipe", "DiffAugment", "ImagePool", "LinearDecay", "ProgressiveSchedule", "fit_classifier"]
