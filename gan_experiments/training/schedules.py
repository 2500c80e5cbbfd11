"""Learning-rate schedules, as picklable callables for ``torch.optim.lr_scheduler.LambdaLR``."""

from __future__ import annotations


class LinearDecay:
    """CycleGAN/pix2pix ``lr_policy=linear``: ``n_epochs`` at the initial rate, then ``n_epochs_decay`` epochs
    of linear decay towards zero. The multiplier after ``epoch`` completed epochs (the scheduler steps once
    at the end of each epoch) is

        1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1)

    exactly as junyanz ``networks.get_scheduler`` (epoch_count = 1): 1 up to epoch n_epochs, then
    1 - 1/(d+1), 1 - 2/(d+1), ... down to 1/(d+1) in the last epoch (d = n_epochs_decay).
    """

    def __init__(self, n_epochs: int = 100, n_epochs_decay: int = 100):
        if n_epochs < 0 or n_epochs_decay < 0:
            raise ValueError(f"n_epochs and n_epochs_decay must be >= 0, got {n_epochs} and {n_epochs_decay}")
        self.n_epochs, self.n_epochs_decay = n_epochs, n_epochs_decay

    def __call__(self, epoch: int) -> float:
        return max(0.0, 1.0 - max(0, epoch + 1 - self.n_epochs) / (self.n_epochs_decay + 1))

    def __repr__(self) -> str:
        return f"LinearDecay(n_epochs={self.n_epochs}, n_epochs_decay={self.n_epochs_decay})"
