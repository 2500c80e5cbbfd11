"""``evaluate.py task=bias_audit ckpt=PATH attribute=NAME``: what else changes when one attribute is edited.

Edits ``num_images`` samples toward ``attribute`` (as ``task=edit``) and measures every attribute's
classifier probability before and after: per attribute the mean change and its standard deviation over
samples, next to its Pearson correlation with the target attribute in the real data (up to 10,000
training labels). The course's lesson: editing one feature drags correlated ones along (CelebA: Smiling
and Mouth_Slightly_Open, or High_Cheekbones). JSON with one entry per attribute and a bar chart of the
largest mean shifts.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from gan_experiments.metrics.reference import first_images  # noqa: E402
from gan_experiments.tools.edit import edit_latents, find_attribute, initial_latents, make_editor  # noqa: E402


def real_correlations(datamodule, index: int, limit: int = 10000) -> torch.Tensor:
    """Pearson correlation [K] of every attribute (one-hot classes) with attribute ``index`` in the labels."""
    _, labels = first_images(datamodule.train_set, limit)
    if labels.ndim == 1:
        labels = torch.nn.functional.one_hot(labels, datamodule.num_classes)
    x = labels.float() - labels.float().mean(dim=0)
    std = x.pow(2).mean(dim=0).sqrt().clamp_min(1e-12)
    return (x * x[:, index : index + 1]).mean(dim=0) / (std * std[index])


def bias_audit(cfg: DictConfig, *, ckpt: str, attribute: str, num_images: int, edit_steps: int, step_size: float,
               edit_space: str | None) -> dict:
    editor = make_editor(cfg, ckpt, edit_space)
    index = find_attribute(editor.names, attribute)
    before = initial_latents(editor, num_images, cfg.seed)
    after = edit_latents(editor, before, index, edit_steps, step_size)
    with torch.no_grad():
        change = editor.probabilities(after) - editor.probabilities(before)  # [N, K]
    correlation = real_correlations(editor.datamodule, index)
    entries = {
        name: {"mean_change": change[:, k].mean().item(), "std_change": change[:, k].std().item(),
               "real_correlation": correlation[k].item()}
        for k, name in enumerate(editor.names)
    }
    chart = plot_shifts(entries, editor.names[index], Path(cfg.out_dir) / f"bias_audit_{editor.names[index]}.png")
    return {"attribute": editor.names[index], "space": editor.space, "num_samples": len(before),
            "target_mean_change": entries[editor.names[index]]["mean_change"], "attributes": entries,
            "chart": str(chart)}


def shift_chart(entries: dict, target: str, top: int = 12) -> plt.Figure:
    """Horizontal bars of the mean probability shift (± std) of ``target`` (top, orange) and of the ``top``
    other attributes that moved most (blue), each with its real-data correlation r with ``target`` written
    in a column right of the plot."""
    others = sorted((n for n in entries if n != target), key=lambda n: -abs(entries[n]["mean_change"]))[:top]
    names = [target, *others][::-1]  # barh draws bottom-up: the target last, at the top
    fig, ax = plt.subplots(figsize=(8.5, 0.35 * len(names) + 1.4))
    ax.barh(names, [entries[n]["mean_change"] for n in names], xerr=[entries[n]["std_change"] for n in names],
            color=["C1" if n == target else "C0" for n in names], ecolor="0.3", capsize=2)
    for y, n in enumerate(names):
        ax.annotate(f"{entries[n]['real_correlation']:+.2f}", (1.01, y), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8)
    ax.annotate("r", (1.01, len(names) - 0.4), xycoords=("axes fraction", "data"), fontsize=8, weight="bold")
    ax.set(xlabel="mean change in classifier probability (± std over samples)",
           title=f"editing toward {target} (orange): largest other shifts; r = correlation in the real data")
    ax.title.set_fontsize(10)
    ax.axvline(0, color="k", lw=0.5)
    fig.tight_layout()
    return fig


def plot_shifts(entries: dict, target: str, path: Path, top: int = 12) -> Path:
    fig = shift_chart(entries, target, top)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
