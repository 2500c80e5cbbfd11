"""One CycleGAN training iteration: our Lightning module against a plain PyTorch loop of the reference algorithm.

The plain loop is junyanz/pytorch-CycleGAN-and-pix2pix ``cycle_gan_model.py`` ``optimize_parameters``:
forward (fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A)), both D frozen, one
Adam step over both G on identity (0.5 x 10) + LSGAN (MSE to 1 on the PatchGAN logits) + cycle L1 (x 10),
both D unfrozen, one Adam step over both D, each on its real images against a detached fake drawn through an
image pool of 50 (``gan_experiments.training.ImagePool`` on both sides), 0.5 x (MSE(real, 1) + MSE(fake, 0)).
Both sides get the same networks (deep copies of one initialization of ``model=cyclegan`` at its defaults:
resnet_9blocks at 256 px, resnet_6blocks below, 70x70 PatchGAN), the same optimizers (Adam 2e-4, (0.5, 0.999))
and the same batches: `--batches` real horse2zebra pairs (batch 1) loaded once from the shared data folder
(`GAN_SHARED_DATA` or ../shared/data) and served from memory, so data loading is not measured.

Interleaved in one process, per image size and round: `--batches` iterations of the plain loop, then one
epoch of `--batches` iterations of `Trainer.fit` (progress bar, checkpoints, logger and model summary off;
resumed each round from the previous round's checkpoint, so Adam state and image pools carry on), timed from
`on_train_epoch_start` to `on_train_epoch_end`. The first round warms up and is dropped. Prints one JSON line
per size: median seconds per iteration of each and `ratio` = Lightning / plain. Goal: ratio <= 1.05 on CPU.
`--device cuda`, `--precision bf16-mixed` (torch.autocast(bfloat16) in the plain loop) and `--channels-last`
(networks and inputs on both sides) give the GPU figures.

    python benchmarks/cyclegan_step.py [--sizes 256 128] [--rounds 3] [--batches 3]
        [--device cpu|cuda] [--precision 32-true|bf16-mixed] [--channels-last]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
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

from gan_experiments.networks.resnet import ResidualBlock  # noqa: E402
from gan_experiments.pipeline import build, build_module  # noqa: E402
from gan_experiments.training import ImagePool  # noqa: E402
from tests.helpers import SHARED_DATA, compose_train  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class EpochTimer(L.Callback):
    def __init__(self, device: torch.device):
        self.device, self.seconds = device, []

    def on_train_epoch_start(self, trainer, pl_module):
        synchronize(self.device)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        synchronize(self.device)
        self.seconds.append(time.perf_counter() - self._start)


@dataclass
class PlainCycleGAN:
    """The reference's networks and state: netG_A (A -> B), netG_B (B -> A), netD_A (judges B), netD_B (judges A)."""

    g_a: nn.Module
    g_b: nn.Module
    d_a: nn.Module
    d_b: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    pool_fake_a: ImagePool
    pool_fake_b: ImagePool
    lambda_cycle: float
    lambda_idt: float


def make_plain(module, device: torch.device, memory_format: torch.memory_format) -> PlainCycleGAN:
    """Deep copies of the module's four networks, with the module's optimizer factories and pool size."""
    g_a, g_b, d_a, d_b = (copy.deepcopy(net).to(device, memory_format=memory_format) for net in (
        module.generator_ab, module.generator_ba, module.discriminator_b, module.discriminator_a))
    opt_g = module.optimizer_g([*g_a.parameters(), *g_b.parameters()])
    opt_d = module.optimizer_d([*d_a.parameters(), *d_b.parameters()])
    return PlainCycleGAN(g_a, g_b, d_a, d_b, opt_g, opt_d, ImagePool(module.pool_a.size), ImagePool(module.pool_b.size),
                         module.lambda_cycle, module.lambda_identity)


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """The reference's GANLoss('lsgan'): MSE of the PatchGAN logits to a constant 1 (real) or 0 (fake) map."""
    return F.mse_loss(logits, torch.full_like(logits, float(real)))


def backward_d(net: nn.Module, real: torch.Tensor, fake: torch.Tensor, backward=torch.Tensor.backward) -> torch.Tensor:
    loss = 0.5 * (gan_loss(net(real), True) + gan_loss(net(fake.detach()), False))
    backward(loss)
    return loss


def plain_step(p: PlainCycleGAN, real_a: torch.Tensor, real_b: torch.Tensor, backward=torch.Tensor.backward,
               step=lambda opt: opt.step()) -> tuple[torch.Tensor, torch.Tensor]:
    """``optimize_parameters`` of the reference's CycleGANModel; returns (loss_G, loss_D_A + loss_D_B).
    ``backward(loss)`` and ``step(optimizer)`` default to plain autograd and optimizer steps (a loss scaler's
    in step_speed.py)."""
    fake_b = p.g_a(real_a)
    rec_a = p.g_b(fake_b)
    fake_a = p.g_b(real_b)
    rec_b = p.g_a(fake_a)

    p.d_a.requires_grad_(False)
    p.d_b.requires_grad_(False)
    p.opt_g.zero_grad(set_to_none=True)
    loss_idt_a = F.l1_loss(p.g_a(real_b), real_b) * p.lambda_cycle * p.lambda_idt
    loss_idt_b = F.l1_loss(p.g_b(real_a), real_a) * p.lambda_cycle * p.lambda_idt
    loss_g = (gan_loss(p.d_a(fake_b), True) + gan_loss(p.d_b(fake_a), True)
              + F.l1_loss(rec_a, real_a) * p.lambda_cycle + F.l1_loss(rec_b, real_b) * p.lambda_cycle
              + loss_idt_a + loss_idt_b)
    backward(loss_g)
    step(p.opt_g)

    p.d_a.requires_grad_(True)
    p.d_b.requires_grad_(True)
    p.opt_d.zero_grad(set_to_none=True)
    loss_d_a = backward_d(p.d_a, real_b, p.pool_fake_b.query(fake_b), backward)
    loss_d_b = backward_d(p.d_b, real_a, p.pool_fake_a.query(fake_a), backward)
    step(p.opt_d)
    return loss_g, loss_d_a + loss_d_b


def plain_epoch(p: PlainCycleGAN, loader: DataLoader, device: torch.device, precision: str) -> float:
    """Seconds for one pass over ``loader`` (autocast to bfloat16 around each step for bf16-mixed, as Lightning)."""
    synchronize(device)
    start = time.perf_counter()
    for a, b in loader:
        a, b = a.to(device, non_blocking=True), b.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss_g, loss_d = plain_step(p, a, b)
        _ = (loss_g.item(), loss_d.item())  # the plain loop reads its losses too (Lightning logs them)
    synchronize(device)
    return time.perf_counter() - start


def load_batches(cfg, count: int, memory_format: torch.memory_format) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``count`` (A [1, 3, S, S], B [1, 3, S, S]) batches of the horse2zebra train loader, in memory."""
    datamodule = build(cfg.data, "data")
    datamodule.prepare_data()
    datamodule.setup("fit")
    batches = []
    for a, b in datamodule.train_dataloader():
        batches.append((a.contiguous(memory_format=memory_format), b.contiguous(memory_format=memory_format)))
        if len(batches) == count:
            return batches
    raise ValueError(f"the training set has fewer than {count} batches")


def compose(size: int):
    return compose_train(
        ["model=cyclegan", "data=horse2zebra", f"data.root={SHARED_DATA}", f"data.image_size={size}",
         "data.batch_size=1", "data.num_workers=0", "data.download=false", "logger=none", "metrics=none",
         "trainer.accelerator=cpu"],
        output_dir=ROOT / "logs" / "benchmark_cyclegan_step",
    )


def make_trainer(args, device: torch.device, epochs: int, timer: EpochTimer) -> L.Trainer:
    return L.Trainer(
        accelerator=device.type, devices=1, precision=args.precision, max_epochs=epochs,
        limit_train_batches=args.batches, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )


def measure(args, size: int, device: torch.device, ckpt_dir: Path) -> dict:
    """Interleaved rounds at one image size; the first is dropped."""
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    L.seed_everything(0, verbose=False)
    cfg = compose(size)
    loader = DataLoader(load_batches(cfg, args.batches, memory_format), batch_size=None)
    module = build_module(cfg).to(memory_format=memory_format)
    plain = make_plain(module, device, memory_format)

    timer, plain_s, ckpt = EpochTimer(device), [], None
    for _ in range(args.rounds + 1):
        plain_s.append(plain_epoch(plain, loader, device, args.precision))
        trainer = make_trainer(args, device, len(plain_s), timer)
        trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt)
        ckpt = ckpt_dir / f"last_{size}.ckpt"
        trainer.save_checkpoint(ckpt)

    n_blocks = sum(isinstance(m, ResidualBlock) for m in module.generator_ab.modules())
    lightning = statistics.median(timer.seconds[1:]) / args.batches
    plain_iter = statistics.median(plain_s[1:]) / args.batches
    del module, plain, trainer
    gc.collect()
    return {"image_size": size, "n_blocks": n_blocks, "lightning_s_per_iter": lightning, "plain_s_per_iter": plain_iter}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    device = torch.device(args.device, 0) if args.device == "cuda" else torch.device("cpu")

    with tempfile.TemporaryDirectory(prefix="cyclegan_step_") as ckpt_dir:
        for size in args.sizes:
            result = measure(args, size, device, Path(ckpt_dir))
            print(json.dumps({
                "benchmark": "cyclegan_step", "image_size": size, "n_blocks": result["n_blocks"], "batch_size": 1,
                "batches": args.batches, "rounds": args.rounds,
                "lightning_s_per_iter": round(result["lightning_s_per_iter"], 4),
                "plain_s_per_iter": round(result["plain_s_per_iter"], 4),
                "ratio": round(result["lightning_s_per_iter"] / result["plain_s_per_iter"], 4),
                "device": args.device, "precision": args.precision, "channels_last": args.channels_last,
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "torch": torch.__version__, "lightning": L.__version__, "threads": torch.get_num_threads(),
                "machine": platform.machine(),
            }), flush=True)


if __name__ == "__main__":
    main()
