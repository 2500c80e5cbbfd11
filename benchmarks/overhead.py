"""Lightning's overhead: the DCGAN training step in Lightning against a plain PyTorch loop.

Same networks (copies of one initialization), batch, optimizers, data loader and training step maths
(critic step on G(z) computed without gradients, generator step on a fresh z, the other network's
gradients switched off) on the same machine, interleaved in one process: each round times one epoch of
`--batches` batches with the plain loop, then one with `Trainer.fit` (progress bar, checkpoints and
loggers off; the module's own `self.log` calls stay, they are part of its step). Lightning's time is
measured from `on_train_epoch_start` to `on_train_epoch_end`, so trainer start-up is not counted.
Prints one JSON line: median seconds per epoch of each, and `ratio` = Lightning / plain.

    python benchmarks/overhead.py [--rounds 7] [--batches 20]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_experiments.pipeline import build, build_module  # noqa: E402
from tests.helpers import compose_train  # noqa: E402


class EpochTimer(L.Callback):
    def __init__(self):
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.seconds.append(time.perf_counter() - self._start)


def plain_epoch(generator, discriminator, opt_g, opt_d, loader, batches: int) -> float:
    """One epoch of the same DCGAN step in plain PyTorch (non-saturating BCE, n_critic = 1)."""
    bce = torch.nn.functional.softplus
    start = time.perf_counter()
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
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    L.seed_everything(0, verbose=False)

    cfg = compose_train(["logger=none", "trainer.accelerator=cpu"], output_dir=ROOT / "logs" / "benchmark_overhead")
    datamodule = build(cfg.data, "data")
    datamodule.setup("fit")
    module = build_module(cfg)
    generator, discriminator = copy.deepcopy(module.generator), copy.deepcopy(module.discriminator)
    opt_g, opt_d = module.optimizer_g(generator.parameters()), module.optimizer_d(discriminator.parameters())
    loader = datamodule.train_dataloader()

    timer = EpochTimer()
    plain: list[float] = []
    ckpt = None
    for _ in range(args.rounds + 1):  # the first round warms both up and is dropped
        plain.append(plain_epoch(generator, discriminator, opt_g, opt_d, loader, args.batches))
        trainer = L.Trainer(
            accelerator="cpu", devices=1, max_epochs=len(plain), limit_train_batches=args.batches,
            limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
        )
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt)
        ckpt = ROOT / "logs" / "benchmark_overhead" / "last.ckpt"
        trainer.save_checkpoint(ckpt)

    lightning_s, plain_s = statistics.median(timer.seconds[1:]), statistics.median(plain[1:])
    print(json.dumps({
        "benchmark": "overhead",
        "model": "dcgan", "loss": "bce", "data": "digits", "image_size": cfg.data.image_size,
        "batch_size": cfg.data.batch_size, "batches_per_epoch": args.batches, "rounds": args.rounds,
        "lightning_s_per_epoch": round(lightning_s, 4), "plain_s_per_epoch": round(plain_s, 4),
        "ratio": round(lightning_s / plain_s, 4),
        "torch": torch.__version__, "lightning": L.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }))


if __name__ == "__main__":
    main()
