"""The project's OmegaConf resolvers, registered when ``gan_experiments.config`` (or the pipeline) is imported:

- ``${default_precision:ACCELERATOR}``: ``trainer.precision``'s default (``config/precision.py``).
- ``${schedule_epochs:N_EPOCHS,N_EPOCHS_DECAY,DEFAULT}``: ``trainer.max_epochs``'s default, the length of a
  model's learning-rate schedule of ``n_epochs`` constant then ``n_epochs_decay`` linear decay (pix2pix,
  CycleGAN: 100 + 100 = 200, Isola et al. 2017; Zhu et al. 2017), or ``DEFAULT`` for a model without one.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from gan_experiments.config.precision import default_precision


def schedule_epochs(n_epochs: int | None, n_epochs_decay: int | None, default: int) -> int:
    """``n_epochs + n_epochs_decay`` when the model has that schedule (both set), else ``default``."""
    if n_epochs is None or n_epochs_decay is None:
        return default
    return n_epochs + n_epochs_decay


RESOLVERS = {
    "default_precision": lambda accelerator="auto": default_precision(str(accelerator)),
    "schedule_epochs": schedule_epochs,
}


def register() -> None:
    for name, resolver in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
