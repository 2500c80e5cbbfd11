"""Lightning callbacks: sample grids, toy-data evaluation, curves, metrics.json and the run config."""

from gan_experiments.callbacks.best_checkpoint import BestCheckpoint
from gan_experiments.callbacks.curves import LossCurves
from gan_experiments.callbacks.epoch_seed import EpochSeed
from gan_experiments.callbacks.gan_metrics import GANMetrics
from gan_experiments.callbacks.grad_clip import GradientNormClip
from gan_experiments.callbacks.memory_format import ChannelsLast
from gan_experiments.callbacks.metrics_json import MetricsJSON, collect_metrics
from gan_experiments.callbacks.nonfinite import NonFiniteLossError, NonFiniteLossGuard
from gan_experiments.callbacks.preemption import PreemptionCheckpoint
from gan_experiments.callbacks.reconstructions import ReconstructionGrid
from gan_experiments.callbacks.run_config import RunConfig
from gan_experiments.callbacks.sample_grid import SampleGrid
from gan_experiments.callbacks.toy2d import Toy2DEvaluation
from gan_experiments.callbacks.translation_metrics import TranslationMetrics
from gan_experiments.callbacks.translation_panels import TranslationPanels

__all__ = [
    "BestCheckpoint",
    "ChannelsLast",
    "GANMetrics",
    "GradientNormClip",
    "LossCurves",
    "MetricsJSON",
    "NonFiniteLossError",
    "NonFiniteLossGuard",
    "EpochSeed",
    "PreemptionCheckpoint",
    "ReconstructionGrid",
    "RunConfig",
    "SampleGrid",
    "Toy2DEvaluation",
    "TranslationMetrics",
    "TranslationPanels",
    "collect_metrics",
]
