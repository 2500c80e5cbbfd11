"""Training-time state that is not a network: image pools and learning-rate schedules."""

from gan_experiments.training.image_pool import ImagePool
from gan_experiments.training.schedules import LinearDecay, ProgressiveSchedule

__all__ = ["ImagePool", "LinearDecay", "ProgressiveSchedule"]
