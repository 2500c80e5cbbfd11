"""Loss and metric curves of a run, plotted to ``plots/losses.png`` and ``plots/metrics.png`` at the end."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from lightning import Callback, LightningModule, Trainer  # noqa: E402
from lightning.pytorch.utilities import rank_zero_only  # noqa: E402


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over ``window`` points (shorter at the start), for readable noisy loss curves."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


class LossCurves(Callback):
    """Records the per-batch losses a GAN module returns from ``training_step`` and the epoch-level
    ``val/*`` metrics, and plots them when training ends (also after a crash, so nothing is lost)."""

    def __init__(self, dirpath: str, smoothing: int = 25):
        self.dirpath, self.smoothing = Path(dirpath), smoothing
        self.steps: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        self.epochs: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        if isinstance(outputs, dict):
            for name, value in outputs.items():
                self.steps[name].append((trainer.fit_loop.total_batch_idx, value))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for name, value in trainer.callback_metrics.items():
            if name.startswith("val/"):
                self.epochs[name].append((trainer.current_epoch + 1, float(value)))
        self._to_floats()

    def _to_floats(self) -> None:
        """Turn the tensors recorded this epoch into floats in one transfer (no per-step device sync)."""
        for series in self.steps.values():
            pending = [i for i, (_, v) in enumerate(series) if isinstance(v, torch.Tensor)]
            if pending:
                values = torch.stack([series[i][1].float() for i in pending]).tolist()
                for i, v in zip(pending, values, strict=True):
                    series[i] = (series[i][0], v)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.plot()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self.plot()

    @rank_zero_only
    def plot(self) -> None:
        self._to_floats()
        self.dirpath.mkdir(parents=True, exist_ok=True)
        if self.steps:
            self._plot(self.steps, "batch", "losses.png", smooth=True)
        if self.epochs:
            self._plot(self.epochs, "epoch", "metrics.png", smooth=False)

    def _plot(self, series: dict, xlabel: str, filename: str, smooth: bool) -> None:
        names = sorted(series)
        fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.2 * len(names)), sharex=True, squeeze=False)
        for ax, name in zip(axes[:, 0], names, strict=True):
            xs, ys = zip(*series[name], strict=True)
            if smooth and len(ys) > self.smoothing:
                ax.plot(xs, ys, alpha=0.3, color="tab:blue", linewidth=0.8)
                ax.plot(xs, moving_average(list(ys), self.smoothing), color="tab:blue")
            else:
                ax.plot(xs, ys, marker="o" if not smooth else None, color="tab:blue")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel(xlabel)
        fig.tight_layout()
        fig.savefig(self.dirpath / filename, dpi=100)
        plt.close(fig)
