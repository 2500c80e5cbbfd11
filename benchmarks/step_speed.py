"""One training step of every model at its standard size: the framework's ``Trainer.fit`` against a plain
PyTorch loop, per precision, memory format and ``torch.compile``.

A *step* is one generator iteration: the model's D (critic) and G sub-steps on one batch; for WGAN-GP, 5
critic steps on 5 batches, then one G step (Gulrajani et al. 2017, Algorithm 1; ``batches_per_step`` = 5).
Models: memory.py's ``MODELS`` (standard sizes and batch sizes). Configurations (``--configs``): a precision
(fp32 = ``32-true``, bf16 = ``bf16-mixed``, fp16 = ``16-mixed``; on a CPU fp16 is ``trainer=fp16_cpu``'s real
fp16 autocast with a GradScaler), ``+cl`` for channels-last, ``+compile`` for ``torch.compile``.

- framework: ``Trainer.fit`` of the module ``build_module`` makes from the composed train config, the trainer
  built from ``cfg.trainer`` (``trainer.precision``) and the config's callbacks as ``train.py`` builds them
  (``EpochSeed``, the NaN guard, gradient clipping (off by default), preemption, and channels-last through
  ``callbacks.channels_last.enabled=true``); logger, checkpoints, progress bar, metrics, sample grids or
  translation panels, loss curves and metrics.json off. ``+compile``: ``Module.compile()`` (in place) on each
  network before ``fit`` (the framework has no compile option).
- plain: the same step as a plain PyTorch loop (the ``Plain*`` classes below, one per model family, written
  from the papers), on deep copies of the module's networks made before training (one initialization),
  optimizers from the module's own factories (the same settings), ``torch.autocast`` around the step where
  mixed (and ``torch.amp.GradScaler`` for fp16), the networks ``.to(memory_format=torch.channels_last)``
  where the framework's are, ``Module.compile()`` where the framework's are compiled. Like the framework it
  reads its losses once per step (the framework's NaN guard reads them every step).

Both read the same synthetic batches: uniform in [-1, 1] at the data's shape (plus class labels), made once on
the device. Data loading and decoding are not measured and no dataset is needed (a step's time does not
depend on pixel values).

How: one ``Trainer.fit`` of ``--rounds`` + 1 epochs of ``--steps`` steps each (by default chosen per model
at its first configuration, from one timed plain step, for about ``--epoch-s`` seconds per epoch: 4 on a CPU,
1 on CUDA; 1 to ``--max-steps``); a callback runs one plain epoch of the same steps just before each
framework epoch (interleaved per epoch: load from other processes hits both sides alike). Each epoch is timed
in wall time (``time.perf_counter``, CUDA synchronized) and in process CPU time (``time.process_time``, all
threads of this process: wall time far above CPU time / threads means the process waited, for the CPU or for
the GPU). The framework's epoch runs from ``on_train_epoch_start`` to ``on_train_epoch_end`` (start-up
excluded; its per-step hooks and ``self.log`` calls included). The first round (warm-up, compilation) is
dropped. One JSON line per model and configuration: the median ms per step of each side with its min and
max over the rounds, the process CPU ms per step, images per second (real images consumed per step / seconds
per step), ``ratio`` = framework / plain as the median of the per-round ratios with its min and max,
``cpu_ratio`` (the same from CPU times), the trainer's precision and whether it used a loss scaler, and for
compiled configurations the graphs torch.compile made and its graph breaks. Configurations that are not
measured are printed as ``step_speed_skipped`` lines that say why (e.g. torch.compile and double backward).
``--tiny`` (tests): small networks and images, 2 steps, 2 rounds, one CPU thread.

    python benchmarks/step_speed.py [--models dcgan cyclegan ...] [--configs fp32 bf16+cl fp32+compile ...]
        [--steps N] [--epoch-s 4] [--rounds 3] [--device cpu|cuda] [--compile-models dcgan ...] [--tiny]
"""

from __future__ import annotations

import argparse
import copy
import functools
import gc
import itertools
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from memory import MODELS  # noqa: E402

CONFIGS = ("fp32", "bf16", "fp32+cl", "bf16+cl", "fp32+compile", "bf16+cl+compile")
PRECISIONS = {"fp32": "32-true", "bf16": "bf16-mixed", "fp16": "16-mixed"}
# torch.compile is not measured for these models, whatever the device
NO_COMPILE = {
    "wgan_gp": "the gradient penalty backpropagates through D's input gradient (double backward, "
               "autograd.grad(create_graph=True)), which torch.compile's AOTAutograd does not support",
    "stylegan": "the R1 penalty backpropagates through D's input gradient (double backward, not supported by "
                "torch.compile's AOTAutograd); G's style mixing also decides in Python every step (graph breaks)",
}
# on a CPU, compilation takes minutes per model: by default only these are compiled there
CPU_COMPILE_MODELS = ("dcgan",)
# --tiny: small networks and images, small batches, for tests (replaces MODELS' size overrides)
TINY = {
    "gan": ["model=gan", "data=mnist", "data.image_size=16", "data.batch_size=8",
            "model.generator.hidden_dims=[32,32]", "model.discriminator.hidden_dims=[32,32]"],
    "dcgan": ["model=dcgan", "data=celeba", "data.image_size=16", "data.batch_size=8",
              "model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "wgan_gp": ["model=dcgan", "loss=wgan_gp", "data=celeba", "data.image_size=16", "data.batch_size=8",
                "model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "cgan": ["model=cgan", "data=mnist", "data.image_size=16", "data.batch_size=8",
             "model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "infogan": ["model=infogan", "data=mnist", "data.image_size=16", "data.batch_size=8",
                "model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "stylegan": ["model=stylegan", "data=celeba", "data.image_size=16", "data.batch_size=8",
                 "model.progressive=false", "model.generator.latent_dim=32", "model.generator.w_dim=32",
                 "model.generator.base_channels=8", "model.generator.max_channels=32",
                 "model.generator.mapping_layers=2"],
    "pix2pix": ["model=pix2pix", "data=facades", "data.image_size=32", "model.generator.base_channels=8",
                "model.discriminator.base_channels=8", "model.discriminator.n_layers=2"],
    "cyclegan": ["model=cyclegan", "data=horse2zebra", "data.image_size=32", "model.generator_ab.base_channels=8",
                 "model.generator_ab.n_blocks=2", "model.discriminator_a.base_channels=8",
                 "model.discriminator_a.n_layers=2"],
}
TINY_CONFIGS = ("fp32", "bf16+cl")
# callbacks that write files (or need a logger): not part of a training step
OUTPUT_CALLBACKS = ("model_checkpoint", "sample_grid", "rich_progress_bar", "lr_monitor", "loss_curves",
                    "metrics_json", "translation_panels", "best_checkpoint")
# the networks each family trains (attribute names on its module)
NETWORKS = {"cyclegan": ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")}


@dataclass(frozen=True)
class Config:
    name: str
    precision: str  # Lightning's name: 32-true, bf16-mixed, 16-mixed
    channels_last: bool
    compile: bool

    @classmethod
    def parse(cls, name: str) -> Config:
        head, *flags = name.split("+")
        if head not in PRECISIONS or set(flags) - {"cl", "compile"}:
            raise argparse.ArgumentTypeError(f"{name!r}: expected fp32|bf16|fp16, then optionally +cl and +compile")
        return cls(name, PRECISIONS[head], "cl" in flags, "compile" in flags)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``, the device synchronized before and after."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


class Interleaved(L.Callback):
    """Runs ``plain_epoch`` just before every framework epoch and times both: ``rounds`` holds, per epoch,
    plain_s, plain_cpu_s, framework_s, framework_cpu_s (wall and process CPU seconds)."""

    def __init__(self, plain_epoch: Callable[[], object], device: torch.device):
        self.plain_epoch, self.device = plain_epoch, device
        self.rounds: list[dict[str, float]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        plain_s, plain_cpu_s = timed(self.plain_epoch, self.device)
        self.rounds.append({"plain_s": plain_s, "plain_cpu_s": plain_cpu_s})
        synchronize(self.device)
        self._start = time.perf_counter(), time.process_time()

    def on_train_epoch_end(self, trainer, pl_module):
        synchronize(self.device)
        self.rounds[-1]["framework_s"] = time.perf_counter() - self._start[0]
        self.rounds[-1]["framework_cpu_s"] = time.process_time() - self._start[1]


def spread(rounds: list[dict[str, float]], per: float = 1.0) -> dict[str, float]:
    """Median, min and max over the rounds of each side (wall, and the median of CPU), divided by ``per``,
    and of the per-round ratios framework / plain (wall and CPU)."""
    out = {}
    for side in ("framework", "plain"):
        wall = [r[f"{side}_s"] / per for r in rounds]
        out |= {side: statistics.median(wall), f"{side}_min": min(wall), f"{side}_max": max(wall),
                f"{side}_cpu": statistics.median(r[f"{side}_cpu_s"] / per for r in rounds)}
    ratios = [r["framework_s"] / r["plain_s"] for r in rounds]
    out |= {"ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "cpu_ratio": statistics.median(r["framework_cpu_s"] / r["plain_cpu_s"] for r in rounds)}
    return out


# ---------------------------------------------------------------------------------------------- plain loops


class Amp:
    """Mixed precision for the plain loops as Lightning's ``MixedPrecision`` applies it: the whole step under
    ``torch.autocast`` (bf16 or fp16), and for fp16 a ``GradScaler`` (initial scale 65536) that scales each
    loss, unscales and steps (skipping steps with inf/NaN gradients) and updates its scale after every
    optimizer step."""

    def __init__(self, precision: str, device: torch.device):
        self.device_type = device.type
        self.dtype = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}[precision]
        self.scaler = torch.amp.GradScaler(device.type, init_scale=65536.0) if self.dtype == torch.float16 else None

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, opt: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            opt.step()
        else:
            self.scaler.step(opt)
            self.scaler.update()

    def update(self, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """zero_grad, backward, step (through the scaler under fp16)."""
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.step(opt)


def expect_criterion(module, kind: str) -> None:
    """The plain loops write their criterion out; check that it is the one the module was configured with."""
    criterion = module.loss.criterion if hasattr(module, "loss") else module.criterion
    if type(criterion).__name__ != kind:
        raise ValueError(f"the plain loop of {type(module).__name__} is written for {kind}, the module has {criterion!r}")


def bce_d(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-log sigma(D(x)) - log(1 - sigma(D(G(z)))) on logits."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def bce_g(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating -log sigma(D(G(z)))."""
    return F.softplus(-d_fake).mean()


class PlainGAN:
    """GAN, DCGAN and cGAN (Goodfellow et al. 2014, Algorithm 1 with k = 1; non-saturating G loss):

        x, y ~ data;  z ~ N(0, I);  D step on  -log s(D(x, y)) - log(1 - s(D(G(z, y).detach(), y)))
        fresh z;  G step on  -log s(D(G(z, y), y))   (D's parameters frozen)

    (y only for the cGAN: labels = None when G has no classes)."""

    def __init__(self, module, amp: Amp, nets: dict[str, torch.nn.Module], model_cfg):
        expect_criterion(module, "BCELoss")
        self.amp, self.g, self.d = amp, nets["generator"], nets["discriminator"]
        self.opt_g, self.opt_d = module.optimizer_g(self.g.parameters()), module.optimizer_d(self.d.parameters())
        self.conditional = module.num_classes > 0

    def z(self, real: torch.Tensor) -> torch.Tensor:
        return torch.randn(real.shape[0], self.g.latent_dim, device=real.device)

    def step(self, batches: Iterator) -> tuple[torch.Tensor, ...]:
        real, labels = next(batches)
        labels = labels if self.conditional else None
        with torch.no_grad():
            fake = self.g(self.z(real), labels)
        d_loss = bce_d(self.d(real, labels), self.d(fake, labels))
        self.amp.update(self.opt_d, d_loss)

        self.d.requires_grad_(False)
        g_loss = bce_g(self.d(self.g(self.z(real), labels), labels))
        self.amp.update(self.opt_g, g_loss)
        self.d.requires_grad_(True)
        return d_loss, g_loss


class PlainWGANGP(PlainGAN):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1): n_critic = 5 critic steps, each on a fresh real batch,

        x ~ data, z ~ N(0, I), eps ~ U[0, 1];  x~ = G(z);  x^ = eps x + (1 - eps) x~
        L = D(x~) - D(x) + lambda (||grad_x^ D(x^)||_2 - 1)^2      (lambda = 10)

    then one G step on -D(G(z)). The penalty's input gradient is taken unscaled also under fp16 (as the
    framework's ``input_gradient``: PyTorch's AMP recipe would scale it by 65536, over fp16's range)."""

    def __init__(self, module, amp: Amp, nets: dict[str, torch.nn.Module], model_cfg):
        if type(module.loss.criterion).__name__ != "WassersteinLoss" or module.loss.critic_schedule is not None:
            raise ValueError(f"PlainWGANGP is written for loss=wgan_gp, the module has {module.loss!r}")
        self.amp, self.g, self.d = amp, nets["generator"], nets["discriminator"]
        self.opt_g, self.opt_d = module.optimizer_g(self.g.parameters()), module.optimizer_d(self.d.parameters())
        self.n_critic, self.gp_weight = module.loss.n_critic, module.loss.gp_weight

    def step(self, batches: Iterator) -> tuple[torch.Tensor, ...]:
        for _ in range(self.n_critic):
            real, _ = next(batches)
            with torch.no_grad():
                fake = self.g(self.z(real))
            eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.d(x_hat).float().sum(), x_hat, create_graph=True)
            gp = (grad.float().flatten(1).norm(2, dim=1) - 1).pow(2).mean()
            d_loss = self.d(fake).mean() - self.d(real).mean() + self.gp_weight * gp
            self.amp.update(self.opt_d, d_loss)

        self.d.requires_grad_(False)
        g_loss = -self.d(self.g(self.z(real))).mean()
        self.amp.update(self.opt_g, g_loss)
        self.d.requires_grad_(True)
        return d_loss, g_loss


class PlainInfoGAN(PlainGAN):
    """InfoGAN (Chen et al. 2016, eq. 6), the authors' scheme: G's input concat(z, one_hot(c), c_cont) with
    z ~ N(0, I) [62], c ~ Cat(10), c_cont ~ U(-1, 1) [2]; Q shares D's trunk (``forward_with_codes``, the
    framework's network, copied); the information term
    L_I = CE(Q_cat(x~), c) + lambda_cont ||Q_cont(x~) - c_cont||^2 / 2 is added, x lambda_info, to D's
    non-saturating loss (training D and Q) and to G's (training G)."""

    def __init__(self, module, amp: Amp, nets: dict[str, torch.nn.Module], model_cfg):
        super().__init__(module, amp, nets, model_cfg)
        self.noise_dim, self.k, self.n_cont = module.noise_dim, module.categorical, module.continuous
        self.lambda_info, self.lambda_cont = module.lambda_info, module.lambda_continuous

    def codes(self, real: torch.Tensor):
        n, dev = real.shape[0], real.device
        c = torch.randint(self.k, (n,), device=dev)
        c_cont = torch.rand(n, self.n_cont, device=dev) * 2 - 1
        z = torch.randn(n, self.noise_dim, device=dev)
        return torch.cat([z, F.one_hot(c, self.k).to(z.dtype), c_cont], dim=1), c, c_cont

    def info(self, q_cat, q_cont, c, c_cont) -> torch.Tensor:
        return F.cross_entropy(q_cat, c) + self.lambda_cont * 0.5 * (q_cont - c_cont).pow(2).sum(dim=1).mean()

    def step(self, batches: Iterator) -> tuple[torch.Tensor, ...]:
        real, _ = next(batches)
        g_input, c, c_cont = self.codes(real)
        with torch.no_grad():
            fake = self.g(g_input)
        d_fake, q_cat, q_cont = self.d.forward_with_codes(fake)
        d_loss = bce_d(self.d(real), d_fake) + self.lambda_info * self.info(q_cat, q_cont, c, c_cont)
        self.amp.update(self.opt_d, d_loss)

        self.d.requires_grad_(False)
        g_input, c, c_cont = self.codes(real)
        d_fake, q_cat, q_cont = self.d.forward_with_codes(self.g(g_input))
        g_loss = bce_g(d_fake) + self.lambda_info * self.info(q_cat, q_cont, c, c_cont)
        self.amp.update(self.opt_g, g_loss)
        self.d.requires_grad_(True)
        return d_loss, g_loss


class PlainStyleGAN(PlainGAN):
    """StyleGAN (Karras et al. 2019) at full resolution (progressive growing off), as NVlabs' loss.py
    (``D_logistic_simplegp``, ``G_logistic_nonsaturating``) and stylegan2-ada-pytorch's G_ema:

        D step: x~ = G(z).detach();  L_D = softplus(D(x~)) + softplus(-D(x)) + gamma / 2 ||grad_x D(x)||^2
                (the R1 gradient from the same forward pass on the reals, gamma = 10)
        G step: softplus(-D(G(z)));  then G_ema <- lerp(G, G_ema, beta) over parameters and float buffers,
                beta = min(0.999, (1 + n) / (10 + n)) after n updates (the framework's warm-up)

    Style mixing and the w average happen inside the generator (the framework's network, copied)."""

    def __init__(self, module, amp: Amp, nets: dict[str, torch.nn.Module], model_cfg):
        super().__init__(module, amp, nets, model_cfg)
        if module.schedule.enabled:
            raise ValueError("PlainStyleGAN times full-resolution training: set model.progressive=false")
        self.r1_weight, self.decay = module.loss.r1_weight, float(model_cfg.ema_decay)
        self.g_ema = copy.deepcopy(self.g).requires_grad_(False)
        self.ema_updates = 0

    @torch.no_grad()
    def update_ema(self) -> None:
        beta = 0.0 if self.ema_updates == 0 else min(self.decay, (1 + self.ema_updates) / (10 + self.ema_updates))
        pairs = zip(itertools.chain(self.g_ema.parameters(), self.g_ema.buffers()),
                    itertools.chain(self.g.parameters(), self.g.buffers()), strict=True)
        for averaged, current in pairs:
            if averaged.is_floating_point():
                averaged.lerp_(current, 1 - beta)
            else:
                averaged.copy_(current)
        self.ema_updates += 1

    def step(self, batches: Iterator) -> tuple[torch.Tensor, ...]:
        real, _ = next(batches)
        with torch.no_grad():
            fake = self.g(self.z(real))
        real = real.detach().requires_grad_(True)
        d_real = self.d(real)
        (grad,) = torch.autograd.grad(d_real.float().sum(), real, create_graph=True)
        r1 = grad.float().flatten(1).pow(2).sum(dim=1).mean()
        d_loss = bce_d(d_real, self.d(fake)) + self.r1_weight / 2 * r1
        self.amp.update(self.opt_d, d_loss)

        self.d.requires_grad_(False)
        g_loss = bce_g(self.d(self.g(self.z(real))))
        self.amp.update(self.opt_g, g_loss)
        self.d.requires_grad_(True)
        self.update_ema()
        return d_loss, g_loss


class PlainPix2Pix(PlainGAN):
    """pix2pix as junyanz ``pix2pix_model.py`` ``optimize_parameters``: fake = G(x); D step on
    0.5 [BCE(D(x, y), 1) + BCE(D(x, fake.detach()), 0)] (D sees concat(input, image)); G step, D frozen, on
    BCE(D(x, fake), 1) + lambda_L1 |y - fake|_1 (lambda_L1 = 100) through the same forward pass."""

    def __init__(self, module, amp: Amp, nets: dict[str, torch.nn.Module], model_cfg):
        expect_criterion(module, "BCELoss")
        self.amp, self.g, self.d = amp, nets["generator"], nets["discriminator"]
        self.opt_g, self.opt_d = module.optimizer_g(self.g.parameters()), module.optimizer_d(self.d.parameters())
        self.lambda_l1 = module.lambda_l1

    def step(self, batches: Iterator) -> tuple[torch.Tensor, ...]:
        x, y = next(batches)
        fake = self.g(x)
        d_loss = 0.5 * bce_d(self.d(torch.cat([x, y], 1)), self.d(torch.cat([x, fake.detach()], 1)))
        self.amp.update(self.opt_d, d_loss)

        self.d.requires_grad_(False)
        g_loss = bce_g(self.d(torch.cat([x, fake], 1))) + self.lambda_l1 * F.l1_loss(fake, y)
        self.amp.update(self.opt_g, g_loss)
        self.d.requires_grad_(True)
        return d_loss, g_loss


class PlainCycleGAN:
    """CycleGAN: benchmarks/cyclegan_step.py's plain loop (junyanz ``cycle_gan_model.py``
    ``optimize_parameters``): forward fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A);
    both D frozen, one step of both G on identity + LSGAN + cycle terms; both D unfrozen, one backward per D
    (0.5 [MSE(D(real), 1) + MSE(D(pool(fake).detach()), 0)]), one step of both D. cyclegan_step.py's state and
    ``plain_step``, with its backward and optimizer steps through ``Amp`` (the fp16 scaler). Uses
    the framework's ``ImagePool`` (50 images), as cyclegan_step.py does."""

    def __init__(self, module, amp: Amp, nets: dict[str, torch.nn.Module], model_cfg):
        from cyclegan_step import PlainCycleGAN as State

        from gan_experiments.training import ImagePool

        expect_criterion(module, "LSGANLoss")
        g_a, g_b = nets["generator_ab"], nets["generator_ba"]
        d_a, d_b = nets["discriminator_b"], nets["discriminator_a"]  # netD_A judges B images, netD_B judges A
        self.amp = amp
        self.p = State(g_a, g_b, d_a, d_b, module.optimizer_g([*g_a.parameters(), *g_b.parameters()]),
                       module.optimizer_d([*d_a.parameters(), *d_b.parameters()]), ImagePool(module.pool_a.size),
                       ImagePool(module.pool_b.size), module.lambda_cycle, module.lambda_identity)

    def step(self, batches: Iterator) -> tuple[torch.Tensor, ...]:
        from cyclegan_step import plain_step

        real_a, real_b = next(batches)
        return plain_step(self.p, real_a, real_b, backward=self.amp.backward, step=self.amp.step)


PLAIN = {"gan": PlainGAN, "dcgan": PlainGAN, "cgan": PlainGAN, "wgan_gp": PlainWGANGP, "infogan": PlainInfoGAN,
         "stylegan": PlainStyleGAN, "pix2pix": PlainPix2Pix, "cyclegan": PlainCycleGAN}


def plain_epoch(plain, loader, steps: int, amp: Amp) -> None:
    """``steps`` plain steps over one pass of ``loader``; each step's losses are read (one transfer)."""
    batches = iter(loader)
    for _ in range(steps):
        with amp.autocast():
            losses = plain.step(batches)
        torch.stack([loss.detach().float() for loss in losses]).tolist()


# ----------------------------------------------------------------------------------------------- measurement


@dataclass
class Settings:
    """steps: per epoch, or None to choose them per model (``choose_steps``): about ``epoch_s`` seconds of
    plain steps per epoch, from 1 to ``max_steps``."""

    steps: int | None
    rounds: int
    device: torch.device
    tiny: bool = False
    epoch_s: float = 4.0
    max_steps: int = 50


def compose(model: str, config: Config, settings: Settings):
    """The train config of ``model`` at its standard size (``--tiny``: small), this configuration's trainer
    and callbacks, outputs off (see ``OUTPUT_CALLBACKS``)."""
    from omegaconf import open_dict

    from tests.helpers import compose_train

    cpu = settings.device.type == "cpu"
    overrides = [*(TINY if settings.tiny else MODELS)[model], "logger=none", "metrics=none", "data.num_workers=0",
                 "trainer.enable_progress_bar=false", f"trainer.max_epochs={settings.rounds + 1}",
                 f"callbacks.channels_last.enabled={str(config.channels_last).lower()}"]
    if config.precision == "16-mixed" and cpu:  # Lightning would run 16-mixed on a CPU as bf16
        overrides.append("trainer=fp16_cpu")
    else:
        overrides += [f"trainer.accelerator={'cpu' if cpu else 'gpu'}", "trainer.devices=1",
                      f"trainer.precision={config.precision}"]
    cfg = compose_train(overrides, ROOT / "logs" / "benchmark_step_speed")
    with open_dict(cfg):
        for name in OUTPUT_CALLBACKS:
            cfg.callbacks.pop(name, None)
    return cfg


def batches_per_step(cfg) -> int:
    """Real batches one generator iteration consumes: loss.n_critic for the GAN family (WGAN-GP: 5)."""
    return 1 if cfg.model._target_.endswith(("CycleGANModule", "Pix2PixModule")) else int(cfg.loss.n_critic)


def synthetic_batches(cfg, model: str, count: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` batches of the data's shape on ``device`` (4 distinct ones, repeated): images uniform in
    [-1, 1], [N, C, S, S]; with class labels [N] (GAN family) or a second image batch (translation)."""
    n, c, s = cfg.data.batch_size, cfg.data.channels, cfg.data.image_size
    classes = max(int(cfg.data.get("num_classes") or 0), 1)
    gen = torch.Generator().manual_seed(0)

    def images() -> torch.Tensor:
        return (torch.rand(n, c, s, s, generator=gen) * 2 - 1).to(device)

    paired = model in ("pix2pix", "cyclegan")
    distinct = [(images(), images() if paired else torch.randint(classes, (n,), generator=gen).to(device))
                for _ in range(min(count, 4))]
    return [distinct[i % len(distinct)] for i in range(count)]


def skip_reason(model: str, config: Config, settings: Settings, compile_models) -> str | None:
    if not config.compile:
        return None
    if model in NO_COMPILE:
        return NO_COMPILE[model]
    if model not in compile_models:
        return (f"compile is measured only for {', '.join(compile_models) or 'no model'} here "
                "(on a CPU compilation takes minutes per model): add it with --compile-models")
    return None


def choose_steps(plain, cfg, model: str, amp: Amp, settings: Settings) -> int:
    """Steps per epoch for about ``settings.epoch_s`` seconds of plain steps (1 to ``max_steps``), from one
    warm-up step and one timed step of the plain loop (before training: both sides then run the warm-up
    round anyway)."""
    per_step = batches_per_step(cfg)
    loader = torch.utils.data.DataLoader(synthetic_batches(cfg, model, per_step, settings.device), batch_size=None)
    plain_epoch(plain, loader, 1, amp)
    seconds, _ = timed(functools.partial(plain_epoch, plain, loader, 1, amp), settings.device)
    return max(1, min(settings.max_steps, round(settings.epoch_s / seconds)))


def measure(model: str, config: Config, settings: Settings, steps: int | None = None) -> dict:
    """One (model, configuration): the interleaved rounds of both sides, summarized as one row. ``steps``
    per epoch: given, else ``settings.steps``, else chosen (``choose_steps``; the row says how many)."""
    from omegaconf import open_dict

    from gan_experiments.callbacks import EpochSeed
    from gan_experiments.callbacks.nonfinite import uses_loss_scaler
    from gan_experiments.pipeline import build, build_callbacks, build_module

    device = settings.device
    cfg = compose(model, config, settings)
    L.seed_everything(0, verbose=False)
    module = build_module(cfg)
    names = NETWORKS.get(model, ("generator", "discriminator"))
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    nets = {name: copy.deepcopy(getattr(module, name)).to(device, memory_format=memory_format) for name in names}
    if config.compile:
        import torch._dynamo as dynamo

        dynamo.reset()  # earlier configurations' compiled code must not count against the recompile limit
        dynamo.utils.counters.clear()
        dynamo.config.cache_size_limit = max(dynamo.config.cache_size_limit, 64)
        for name in names:
            getattr(module, name).compile()
            nets[name].compile()
    amp = Amp(config.precision, device)
    plain = PLAIN[model](module, amp, nets, cfg.model)
    steps = steps or settings.steps or choose_steps(plain, cfg, model, amp, settings)
    per_step = batches_per_step(cfg)
    with open_dict(cfg):
        cfg.trainer.limit_train_batches = steps * per_step
    loader = torch.utils.data.DataLoader(synthetic_batches(cfg, model, steps * per_step, device), batch_size=None)
    timer = Interleaved(functools.partial(plain_epoch, plain, loader, steps, amp), device)
    callbacks = [EpochSeed(cfg.seed), *build_callbacks(cfg, have_logger=False), timer]
    trainer = build(cfg.trainer, "trainer", logger=False, enable_checkpointing=False, enable_model_summary=False,
                    callbacks=callbacks)
    trainer.fit(module, train_dataloaders=loader)
    if len(timer.rounds) != settings.rounds + 1:
        raise RuntimeError(f"{model} {config.name}: {len(timer.rounds)} epochs ran, expected {settings.rounds + 1}")
    stats = spread(timer.rounds[1:], per=steps / 1000)  # ms per step
    images = cfg.data.batch_size * per_step
    row = {
        "benchmark": "step_speed", "model": model, "config": config.name, "precision": config.precision,
        "channels_last": config.channels_last, "compile": config.compile, "device": device.type,
        "image_size": cfg.data.image_size, "batch_size": cfg.data.batch_size, "batches_per_step": per_step,
        "steps": steps, "rounds": settings.rounds, "trainer_precision": str(trainer.precision),
        "loss_scaler": uses_loss_scaler(trainer),
        **{f"{side}_{key}": round(stats[f"{side}{suffix}"], 3) for side in ("framework", "plain")
           for key, suffix in (("ms", ""), ("ms_min", "_min"), ("ms_max", "_max"), ("cpu_ms", "_cpu"))},
        **{key: round(stats[key], 4) for key in ("ratio", "ratio_min", "ratio_max", "cpu_ratio")},
        "framework_images_per_s": round(images / stats["framework"] * 1000, 2),
        "plain_images_per_s": round(images / stats["plain"] * 1000, 2),
        **(compile_counts() if config.compile else {}),
        "load_avg": round(os.getloadavg()[0], 2),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__, "lightning": L.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    del module, plain, nets, trainer, timer, loader
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def compile_counts() -> dict[str, int]:
    """Graphs torch.compile made and graph breaks it met (both sides): many breaks mean much eager code."""
    from torch._dynamo.utils import counters

    return {"compiled_graphs": int(counters["stats"]["unique_graphs"]),
            "graph_breaks": int(sum(counters["graph_break"].values()))}


def run(models, configs, settings: Settings, compile_models) -> Iterator[dict]:
    """Rows (measured or skipped) for every model and configuration, in that order; each model's steps per
    epoch are chosen at its first measured configuration and kept for the others."""
    for model in models:
        steps = settings.steps
        for config in configs:
            reason = skip_reason(model, config, settings, compile_models)
            if reason:
                yield {"benchmark": "step_speed_skipped", "model": model, "config": config.name, "reason": reason}
                continue
            row = measure(model, config, settings, steps)
            steps = row["steps"]
            yield row


def set_threads(threads: int | None, tiny: bool) -> None:
    """``--tiny`` runs on one thread: on a CPU busy with other processes, each of the many tiny operations
    of a tiny step otherwise waits for a descheduled second thread (measured on 2 loaded cores: tiny DCGAN
    about 1,100 ms per step on 2 threads, 11 ms on 1)."""
    if threads or tiny:
        torch.set_num_threads(threads or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--configs", nargs="+", type=Config.parse, default=None,
                        help=f"default: {' '.join(CONFIGS)} (--tiny: {' '.join(TINY_CONFIGS)})")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per epoch (default, or 0: chosen per model for about --epoch-s seconds; "
                             "--tiny: 2)")
    parser.add_argument("--epoch-s", type=float, default=None,
                        help="seconds of plain steps per epoch when choosing --steps (default 4 on cpu, 1 on cuda)")
    parser.add_argument("--max-steps", type=int, default=50, help="at most this many steps per epoch when choosing")
    parser.add_argument("--rounds", type=int, default=None,
                        help="measured rounds after the warm-up (default 3; --tiny: 2)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compile-models", nargs="*", choices=list(MODELS), default=None,
                        help=f"models measured with +compile configurations (default: all on cuda, "
                             f"{' '.join(CPU_COMPILE_MODELS)} on cpu; never {' '.join(NO_COMPILE)})")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; --tiny: 1, see set_threads)")
    parser.add_argument("--tiny", action="store_true", help="small networks and images, 2 steps: for tests")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    set_threads(args.threads, args.tiny)
    configs = args.configs or [Config.parse(name) for name in (TINY_CONFIGS if args.tiny else CONFIGS)]
    steps = (2 if args.tiny else None) if args.steps is None else (args.steps or None)
    settings = Settings(steps=steps, rounds=args.rounds or (2 if args.tiny else 3),
                        device=torch.device("cuda", 0) if args.device == "cuda" else torch.device("cpu"), tiny=args.tiny,
                        epoch_s=args.epoch_s or (1.0 if args.device == "cuda" else 4.0), max_steps=args.max_steps)
    compile_models = args.compile_models
    if compile_models is None:
        compile_models = list(MODELS) if args.device == "cuda" else list(CPU_COMPILE_MODELS)
    for row in run(args.models, configs, settings, compile_models):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
