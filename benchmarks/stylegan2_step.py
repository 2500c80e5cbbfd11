"""One StyleGAN2 training iteration: our Lightning module against a plain PyTorch loop of the same algorithm.

The plain loop is NVlabs stylegan2-ada-pytorch's ``training_loop`` + ``StyleGAN2Loss.accumulate_gradients``
written out: per real batch, the phases Gmain (softplus(-D(G(z)))), Greg every ``pl_interval`` batches (path
length penalty on half the batch, x pl_weight x interval), Dmain (softplus(D(G(z))) + softplus(-D(x))), Dreg
every ``r1_interval`` batches (gamma / 2 x ||grad D(x)||^2 x interval), each with fresh z and style mixing
(p 0.9), each a zero_grad / backward / Adam step with the other network frozen; then G_ema by its half-life.
Both sides get deep copies of one initialization of ``model=stylegan2`` (its CPU-sized defaults at
``--size`` px, no augmentation: ADA's pipe is the same code on both sides and would only add the same time),
the same lazily corrected Adam optimizers and the same batches: ``--batches`` real CelebA batches loaded once
from the shared data folder and served from memory, so data loading is not measured.

Two settings: ``lazy`` (the paper's intervals, 4 and 16: with 16 batches per round, 4 path length steps and one
R1 step) and ``main`` (both penalties off: the main phases alone). Interleaved in one process, per setting and
round: one pass of the plain loop, then one epoch of ``Trainer.fit`` (progress bar, checkpoints, logger and
model summary off; resumed each round from the previous round's checkpoint), timed from
``on_train_epoch_start`` to ``on_train_epoch_end``. The first round warms up and is dropped. Prints one JSON
line per setting: median seconds per iteration of each and ``ratio`` = Lightning / plain. Goal: not slower
(ratio <= 1.02 within the noise of the per-round spread, which it prints).

    python benchmarks/stylegan2_step.py [--size 32] [--batch 16] [--batches 16] [--rounds 3]
        [--settings lazy main] [--precision 32-true|bf16-mixed]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_experiments.losses.stylegan2 import lazy_adam_correction  # noqa: E402
from gan_experiments.models.stylegan2 import ema_beta  # noqa: E402
from gan_experiments.pipeline import build, build_module  # noqa: E402
from tests.helpers import SHARED_DATA, compose_train  # noqa: E402

SETTINGS = {"lazy": [], "main": ["loss.pl_weight=0", "loss.r1_gamma=0"]}


class EpochTimer(L.Callback):
    def __init__(self):
        self.seconds = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.seconds.append(time.perf_counter() - self._start)


@dataclass
class PlainStyleGAN2:
    g: nn.Module
    d: nn.Module
    g_ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    pl_mean: torch.Tensor
    r1_gamma: float
    r1_interval: int
    pl_weight: float
    pl_interval: int
    mixing: float
    ema_kimg: float
    ema_rampup: float | None
    images: int = 0
    batch_idx: int = 0


def make_plain(module) -> PlainStyleGAN2:
    g, d = copy.deepcopy(module.generator), copy.deepcopy(module.discriminator)
    loss = module.loss
    pl_lazy = loss.pl_interval if loss.pl_weight > 0 else None
    r1_lazy = loss.r1_interval if loss.r1_gamma > 0 else None
    return PlainStyleGAN2(
        g, d, copy.deepcopy(module.generator_ema),
        lazy_adam_correction(module.optimizer_g(g.parameters()), pl_lazy),
        lazy_adam_correction(module.optimizer_d(d.parameters()), r1_lazy),
        torch.zeros([]), loss.r1_gamma, loss.r1_interval, loss.pl_weight, loss.pl_interval,
        module.style_mixing_prob, module.ema_kimg, module.ema_rampup)


def run_g(p: PlainStyleGAN2, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """NVlabs ``run_G``: ws = mapping(z), style mixing from a random cutoff, synthesis."""
    z = torch.randn(n, p.g.latent_dim)
    ws = p.g.mapping(z)[:, None].repeat(1, p.g.num_ws, 1)
    if p.mixing > 0 and torch.rand(()) < p.mixing:
        cutoff = int(torch.randint(1, p.g.num_ws, ()))
        ws[:, cutoff:] = p.g.mapping(torch.randn_like(z), None, update_w_avg=False)[:, None]
    return p.g.synthesis(ws), ws


def phase(opt: torch.optim.Optimizer, train: nn.Module, frozen: nn.Module, loss_fn) -> float:
    frozen.requires_grad_(False)
    train.requires_grad_(True)
    opt.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    opt.step()
    return loss.item()  # the plain loop reads its losses too (Lightning logs them)


def g_main(p: PlainStyleGAN2, n: int) -> torch.Tensor:
    img, _ = run_g(p, n)
    return F.softplus(-p.d(img)).mean()


def g_pl(p: PlainStyleGAN2, n: int) -> torch.Tensor:
    img, ws = run_g(p, n // 2)
    noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grads,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    lengths = grads.square().sum(2).mean(1).sqrt()
    pl_mean = p.pl_mean.lerp(lengths.mean(), 0.01)
    p.pl_mean.copy_(pl_mean.detach())
    return (img[:, 0, 0, 0] * 0 + (lengths - pl_mean).square() * p.pl_weight).mean() * p.pl_interval


def d_main(p: PlainStyleGAN2, real: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        img, _ = run_g(p, real.shape[0])
    return F.softplus(p.d(img)).mean() + F.softplus(-p.d(real)).mean()


def d_r1(p: PlainStyleGAN2, real: torch.Tensor) -> torch.Tensor:
    real = real.detach().requires_grad_(True)
    logits = p.d(real)
    (grads,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    r1 = grads.square().sum([1, 2, 3])
    return (logits * 0 + r1 * (p.r1_gamma / 2)).mean() * p.r1_interval


def plain_iteration(p: PlainStyleGAN2, real: torch.Tensor) -> None:
    n = real.shape[0]
    phase(p.opt_g, p.g, p.d, lambda: g_main(p, n))
    if p.pl_weight > 0 and p.batch_idx % p.pl_interval == 0:
        phase(p.opt_g, p.g, p.d, lambda: g_pl(p, n))
    phase(p.opt_d, p.d, p.g, lambda: d_main(p, real))
    if p.r1_gamma > 0 and p.batch_idx % p.r1_interval == 0:
        phase(p.opt_d, p.d, p.g, lambda: d_r1(p, real))
    beta = ema_beta(n, p.images, p.ema_kimg, p.ema_rampup)
    with torch.no_grad():
        for p_ema, p_g in zip(p.g_ema.parameters(), p.g.parameters(), strict=True):
            p_ema.copy_(p_g.lerp(p_ema, beta))
        for b_ema, b in zip(p.g_ema.buffers(), p.g.buffers(), strict=True):
            b_ema.copy_(b)
    p.images += n
    p.batch_idx += 1


def plain_epoch(p: PlainStyleGAN2, batches: list[tuple[torch.Tensor, torch.Tensor]], precision: str) -> float:
    start = time.perf_counter()
    for real, _ in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            plain_iteration(p, real)
    return time.perf_counter() - start


def compose(args, setting: str):
    return compose_train(
        ["model=stylegan2", "data=celeba", f"data.root={SHARED_DATA}", f"data.image_size={args.size}",
         f"data.batch_size={args.batch}", "data.num_workers=0", "data.download=false", "data.check_images=false",
         "logger=none", "metrics=none", "trainer.accelerator=cpu", "model.augment=null", "model.ada=null",
         *SETTINGS[setting]],
        output_dir=ROOT / "logs" / "benchmark_stylegan2_step")


def load_batches(cfg, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    datamodule = build(cfg.data, "data")
    datamodule.prepare_data()
    datamodule.setup("fit")
    batches = []
    for images, labels in datamodule.train_dataloader():
        batches.append((images, labels))
        if len(batches) == count:
            return batches
    raise ValueError(f"the training set has fewer than {count} batches")


def measure(args, setting: str, ckpt_dir: Path) -> dict:
    L.seed_everything(0, verbose=False)
    cfg = compose(args, setting)
    batches = load_batches(cfg, args.batches)
    loader = DataLoader(batches, batch_size=None)
    module = build_module(cfg)
    plain = make_plain(module)
    timer, plain_s, ckpt = EpochTimer(), [], None
    for _ in range(args.rounds + 1):
        plain_s.append(plain_epoch(plain, batches, args.precision))
        trainer = L.Trainer(accelerator="cpu", devices=1, precision=args.precision, max_epochs=len(plain_s),
                            limit_train_batches=args.batches, limit_val_batches=0, num_sanity_val_steps=0,
                            logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, callbacks=[timer])
        trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt)
        ckpt = ckpt_dir / f"last_{setting}.ckpt"
        trainer.save_checkpoint(ckpt)
    ratios = [lt / pt for lt, pt in zip(timer.seconds[1:], plain_s[1:], strict=True)]
    result = {"lightning_s_per_iter": statistics.median(timer.seconds[1:]) / args.batches,
              "plain_s_per_iter": statistics.median(plain_s[1:]) / args.batches,
              "round_ratios": [round(r, 3) for r in ratios]}
    del module, plain, trainer
    gc.collect()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["lazy", "main"])
    parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="stylegan2_step_") as ckpt_dir:
        for setting in args.settings:
            r = measure(args, setting, Path(ckpt_dir))
            print(json.dumps({
                "benchmark": "stylegan2_step", "setting": setting, "image_size": args.size, "batch_size": args.batch,
                "batches": args.batches, "rounds": args.rounds,
                "lightning_s_per_iter": round(r["lightning_s_per_iter"], 4),
                "plain_s_per_iter": round(r["plain_s_per_iter"], 4),
                "ratio": round(r["lightning_s_per_iter"] / r["plain_s_per_iter"], 4),
                "round_ratios": r["round_ratios"], "precision": args.precision,
                "torch": torch.__version__, "lightning": L.__version__, "threads": torch.get_num_threads(),
                "machine": platform.machine(),
            }), flush=True)


if __name__ == "__main__":
    main()
