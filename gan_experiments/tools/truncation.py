"""``evaluate.py task=truncation ckpt=PATH``: the fidelity/diversity trade-off of the truncation trick.

For each psi in ``psis``: a grid of samples from truncated z (StyleGAN: w' = w̄ + psi (w - w̄) in W; the
same seed for every psi) and FID,
precision and recall of ``metrics.num_samples`` truncated samples; a plot of the three against psi.
Smaller psi: samples nearer the mode (precision up), less variety (recall down).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from gan_experiments.latents import fixed_latents  # noqa: E402
from gan_experiments.metrics.generator import generator_scores, truncates_in_w  # noqa: E402
from gan_experiments.tools.common import info, load_evaluation  # noqa: E402


def truncation_sweep(cfg: DictConfig, *, ckpt: str, psis: list[float], num_images: int,
                     truncation_layers: int | None) -> dict:
    ev = load_evaluation(cfg, ckpt, "truncation")
    if ev.extractor is None:
        raise ValueError("task=truncation needs an image generator (not toy2d data)")
    m, out_dir = cfg.metrics, Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for psi in psis:
        scores, _, _ = generator_scores(ev.module, ev.setup, m.seed, m.batch_size, psi=psi,
                                        truncation_layers=truncation_layers)
        labels = ev.real.labels if ev.module.num_classes else None
        in_w = truncates_in_w(ev.module)
        z, y = fixed_latents(num_images, ev.module.latent_dim, labels, cfg.seed, None if in_w else psi)
        torch.manual_seed(cfg.seed)  # StyleGAN's noise maps: the same draw for every psi's grid
        images = ev.module.sample(z, y, psi=psi, truncation_layers=truncation_layers) if in_w else ev.module.sample(z, y)
        grid = out_dir / f"truncation_psi_{psi}.png"
        save_image(images.float(), grid, nrow=math.ceil(math.sqrt(num_images)),
                   normalize=True, value_range=(-1, 1))
        results.append({"psi": psi, "fid": scores["fid"], "precision": scores["precision"],
                        "recall": scores["recall"], "grid": str(grid)})
    plot = plot_sweep(results, out_dir / "truncation.png", ev.extractor.name)
    return {"sweep": results, "plot": str(plot)} | info(ev)


def plot_sweep(results: list[dict], path: Path, extractor: str) -> Path:
    psis = [r["psi"] for r in results]
    fig, (ax_fid, ax_pr) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_fid.plot(psis, [r["fid"] for r in results], marker="o")
    ax_fid.set(xlabel="truncation psi", ylabel=f"FID ({extractor} features)", title="fidelity")
    ax_pr.plot(psis, [r["precision"] for r in results], marker="o", label="precision")
    ax_pr.plot(psis, [r["recall"] for r in results], marker="o", label="recall")
    ax_pr.set(xlabel="truncation psi", ylim=(0, 1.02), title="precision / recall")
    ax_pr.legend()
    for ax in (ax_fid, ax_pr):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
