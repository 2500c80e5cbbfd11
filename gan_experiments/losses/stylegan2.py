"""The StyleGAN2 objective (Karras et al. 2020; NVlabs stylegan2-ada-pytorch ``training/loss.py``):
what ``loss=stylegan2`` builds and ``model=stylegan2`` trains with.

    L_D = E[softplus(D(G(z)))] + E[softplus(-D(x))]            (non-saturating logistic, the criterion)
          + gamma / 2 · E[||∇_x D(x)||²]                      (R1, Mescheder et al. 2018), every r1_interval-th minibatch
    L_G = E[softplus(-D(G(z)))]
          + pl_weight · E[(||J_wᵀ y|| - a)²]                  (path length, losses/path_length.py), every pl_interval-th

Lazy regularization (sec. 3.1 of the paper): the penalties run as their own optimizer steps every
``*_interval`` minibatches with their weight multiplied by the interval, and Adam's lr and betas are
corrected by c = interval / (interval + 1) (lr · c, beta^c: ``lazy_adam_correction``); an interval of
None puts the penalty into every main step instead, uncorrected (NVlabs' 'both' phases).
``pl_batch_shrink``: the path length step uses batch / shrink samples (2 in the paper).
"""

from __future__ import annotations

from torch.optim import Optimizer

from gan_experiments.losses.adversarial import AdversarialLoss, BCELoss


def _interval_ok(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


class StyleGAN2Loss:
    """A plain class holding the objective's settings (Hydra would turn a dataclass into a config node)."""

    def __init__(self, criterion: AdversarialLoss | None = None, r1_gamma: float = 10.0, r1_interval: int | None = 16,
                 pl_weight: float = 2.0, pl_interval: int | None = 4, pl_batch_shrink: int = 2,
                 pl_decay: float = 0.01):
        self.criterion = criterion if criterion is not None else BCELoss()
        checks = [
            ("r1_gamma", r1_gamma >= 0, ">= 0"), ("pl_weight", pl_weight >= 0, ">= 0"),
            ("r1_interval", _interval_ok(r1_interval), "an integer >= 1, or null (no lazy regularization)"),
            ("pl_interval", _interval_ok(pl_interval), "an integer >= 1, or null (no lazy regularization)"),
            ("pl_batch_shrink", isinstance(pl_batch_shrink, int) and pl_batch_shrink >= 1, "an integer >= 1"),
            ("pl_decay", 0 < pl_decay <= 1, "in (0, 1]"),
        ]
        values = {"r1_gamma": r1_gamma, "pl_weight": pl_weight, "r1_interval": r1_interval, "pl_interval": pl_interval,
                  "pl_batch_shrink": pl_batch_shrink, "pl_decay": pl_decay}
        for name, ok, accepts in checks:
            if not ok:
                raise ValueError(f"loss.{name}={values[name]!r} is invalid: expected {accepts}")
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval
        self.pl_weight, self.pl_interval, self.pl_batch_shrink, self.pl_decay = pl_weight, pl_interval, pl_batch_shrink, pl_decay

    def __repr__(self) -> str:
        return (f"StyleGAN2Loss({self.criterion!r}, r1_gamma={self.r1_gamma}, r1_interval={self.r1_interval}, "
                f"pl_weight={self.pl_weight}, pl_interval={self.pl_interval}, pl_batch_shrink={self.pl_batch_shrink}, "
                f"pl_decay={self.pl_decay})")


def lazy_adam_correction(optimizer: Optimizer, interval: int | None) -> Optimizer:
    """Corrects an optimizer shared by a main step and a lazy regularization step run every ``interval``
    minibatches (StyleGAN2 app. B; NVlabs ``training_loop``): with c = interval / (interval + 1),
    lr <- lr · c and, where the optimizer has them (Adam), betas <- (beta1^c, beta2^c), so the moments
    decay per minibatch as they would with one step per minibatch. None: unchanged."""
    if interval is None:
        return optimizer
    c = interval / (interval + 1)
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * c
        if "betas" in group:
            group["betas"] = tuple(beta**c for beta in group["betas"])
    return optimizer
