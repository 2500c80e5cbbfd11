"""Lightning's overhead: the DCGAN training step in Lightning against a plain PyTorch loop.

Same networks (copies of one initialization), batch, optimizers, data loader and training step maths
(critic step on G(z) computed without gradients, generator step on a fresh z, the other network's
gradients switched off) on the same machine, interleaved in one process: one ``Trainer.fit`` of
``--rounds`` + 1 epochs of ``--batches`` batches (progress bar, checkpoints and loggers off; the module's own
``self.log`` calls stay, they are part of its step), and just before each of its epochs a callback runs one
plain epoch of the same number of batches (``step_speed.Interleaved``). So plain and Lightning alternate
every epoch, in short rounds: load from other processes that comes and goes hits both sides of a round
alike. Lightning's epoch is timed from ``on_train_epoch_start`` to ``on_train_epoch_end`` (trainer start-up
not counted). Each epoch is timed in wall time and in process CPU time (``time.process_time``, all threads):
when other processes take the CPU, wall time grows and CPU time does not (or less), so a wall ratio that
moves while the CPU ratio stays put is noise, not a change. The first round warms up and is dropped.

Prints one JSON line: median seconds per epoch of each side (wall and CPU), ``ratio`` = Lightning / plain
as the median of the per-round ratios, the spread of those ratios (``ratio_min``, ``ratio_q1``, ``ratio_q3``,
``ratio_max``), ``cpu_ratio`` (the same from CPU times) and the load average before and after.

    python benchmarks/overhead.py [--rounds 14] [--batches 10]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import platform
import statistics
import sys
import warnings
from pathlib import Path

import lightning as L
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from step_speed import Interleaved, spread  # noqa: E402

from gan_experiments.pipeline import build, build_module  # noqa: E402
from tests.helpers import compose_train  # noqa: E402


def plain_epoch(generator, discriminator, opt_g, opt_d, loader, batches: int) -> None:
    """One epoch of the same DCGAN step in plain PyTorch (non-saturating BCE, n_critic = 1)."""
    bce = torch.nn.functional.softplus
    for i, (real, _) in enumerate(loader):
        if i == batches:
            break
        z = torch.randn(real.shape[0], generator.latent_dim)
        with torch.no_grad():
            fake = generator(z)
        d_loss = bce(-discriminator(real)).mean() + bce(discriminator(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        discriminator.requires_grad_(False)
        g_loss = bce(-discriminator(generator(torch.randn(real.shape[0], generator.latent_dim)))).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        discriminator.requires_grad_(True)
        _ = (d_loss.item(), g_loss.item())  # the plain loop reads its losses too (Lightning logs them)


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=14)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    L.seed_everything(0, verbose=False)
    load_before = os.getloadavg()[0]

    cfg = compose_train(["logger=none", "trainer.accelerator=cpu"], output_dir=ROOT / "logs" / "benchmark_overhead")
    datamodule = build(cfg.data, "data")
    datamodule.setup("fit")
    module = build_module(cfg)
    generator, discriminator = copy.deepcopy(module.generator), copy.deepcopy(module.discriminator)
    opt_g, opt_d = module.optimizer_g(generator.parameters()), module.optimizer_d(discriminator.parameters())
    loader = datamodule.train_dataloader()

    timer = Interleaved(functools.partial(plain_epoch, generator, discriminator, opt_g, opt_d, loader, args.batches),
                        torch.device("cpu"))
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=args.rounds + 1, limit_train_batches=args.batches,
        limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )
    trainer.fit(module, datamodule=datamodule)

    rounds = timer.rounds[1:]  # the first round warms both up and is dropped
    stats = spread(rounds)
    q1, q3 = quartiles([r["framework_s"] / r["plain_s"] for r in rounds])
    print(json.dumps({
        "benchmark": "overhead",
        "model": "dcgan", "loss": "bce", "data": "digits", "image_size": cfg.data.image_size,
        "batch_size": cfg.data.batch_size, "batches_per_epoch": args.batches, "rounds": args.rounds,
        "lightning_s_per_epoch": round(stats["framework"], 4), "plain_s_per_epoch": round(stats["plain"], 4),
        "ratio": round(stats["ratio"], 4),
        "ratio_min": round(stats["ratio_min"], 4), "ratio_q1": round(q1, 4), "ratio_q3": round(q3, 4),
        "ratio_max": round(stats["ratio_max"], 4),
        "lightning_cpu_s_per_epoch": round(stats["framework_cpu"], 4),
        "plain_cpu_s_per_epoch": round(stats["plain_cpu"], 4), "cpu_ratio": round(stats["cpu_ratio"], 4),
        "load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
        "torch": torch.__version__, "lightning": L.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }))


if __name__ == "__main__":
    main()
