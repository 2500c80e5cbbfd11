"""Learning-rate schedules, as picklable callables for ``torch.optim.lr_scheduler.LambdaLR``."""

from __future__ import annotations


class LinearDecay:
    """CycleGAN/pix2pix ``lr_policy=linear``, exactly as junyanz's code runs it: with ``epoch_count = 1`` its
    ``networks.get_scheduler`` rule is 1 - max(0, k + 1 - n_epochs) / (n_epochs_decay + 1) after k scheduler
    steps, and ``train.py`` steps at the start of every epoch, so 1-indexed epoch e trains at

        1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)

    i.e. the initial rate through epoch n_epochs - 1, then d/(d+1), (d-1)/(d+1), ... down to 0 in the last
    epoch n_epochs + d (d = n_epochs_decay; yes, the reference's last epoch trains at rate 0). Here the
    scheduler steps once at the end of each epoch, so the multiplier after ``epoch`` completed epochs
    (for epoch e = epoch + 1) is 1 - max(0, epoch + 2 - n_epochs) / (d + 1).
    """

    def __init__(self, n_epochs: int = 100, n_epochs_decay: int = 100):
        if n_epochs < 0 or n_epochs_decay < 0:
            raise ValueError(f"n_epochs and n_epochs_decay must be >= 0, got {n_epochs} and {n_epochs_decay}")
        self.n_epochs, self.n_epochs_decay = n_epochs, n_epochs_decay

    def __call__(self, epoch: int) -> float:
        return max(0.0, 1.0 - max(0, epoch + 2 - self.n_epochs) / (self.n_epochs_decay + 1))

    def __repr__(self) -> str:
        return f"LinearDecay(n_epochs={self.n_epochs}, n_epochs_decay={self.n_epochs_decay})"


class ProgressiveSchedule:
    """ProGAN's resolution schedule by images shown to D (Karras et al. 2018, sec. 3): ``stable_images`` at
    4x4, then for each next resolution ``fade_images`` fading it in (alpha 0 -> 1 linearly) and
    ``stable_images`` at alpha 1; the last resolution stays. ``phase(images)`` -> (level, alpha), level 0 =
    4x4 and ``num_levels - 1`` = the data resolution. ``enabled=False`` trains at full resolution from the
    start. Derived from the image count alone, so a resume continues at the same phase."""

    def __init__(self, num_levels: int, fade_images: int = 600_000, stable_images: int = 600_000, enabled: bool = True):
        if fade_images < 0 or stable_images < 0:
            raise ValueError(f"fade_images and stable_images must be >= 0, got {fade_images}, {stable_images}")
        self.num_levels, self.fade, self.stable, self.enabled = num_levels, fade_images, stable_images, enabled

    def phase(self, images: int) -> tuple[int, float]:
        if not self.enabled:
            return self.num_levels - 1, 1.0
        remaining = images - self.stable
        level = 0
        while remaining >= 0 and level < self.num_levels - 1:
            level += 1
            if remaining < self.fade:
                return level, remaining / self.fade if self.fade else 1.0
            remaining -= self.fade + self.stable
        return level, 1.0

    def segment(self, images: int) -> int:
        """Which stretch of constant network structure ``images`` falls in: 2·level - 1 while ``level`` fades
        in, 2·level once it is stable (0: 4x4). It changes where NVlabs' ``floor(lod)`` or ``ceil(lod)``
        does (a level starts fading in, or finishes), where ``reset_opt_for_new_lod`` resets the optimizers;
        the one image count with alpha exactly 0 already counts as fading in here (the new layers are in the
        graph; NVlabs' lod is still the integer there). Constant with ``enabled=False``."""
        level, alpha = self.phase(images)
        return 2 * level - (1 if alpha < 1 else 0)

    def __repr__(self) -> str:
        return f"ProgressiveSchedule(levels={self.num_levels}, fade={self.fade}, stable={self.stable}, enabled={self.enabled})"
