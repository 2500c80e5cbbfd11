"""The default training precision: the fastest one that keeps quality on the machine at hand.

``trainer.precision: ${default_precision:${trainer.accelerator}}`` resolves to ``bf16-mixed`` when training
runs on the CPU (``accelerator: cpu``, or ``auto`` without CUDA) and the CPU has native bfloat16 arithmetic
(the ``avx512_bf16`` or ``amx_bf16`` flags: oneDNN then runs bf16 convolutions and matrix products at about
twice the fp32 rate; measured quality and speed in benchmarks/README.md), else ``32-true``: CPUs without
those flags emulate bf16 slowly, and on GPUs no speed and quality comparison has been measured yet.
``$GAN_DEFAULT_PRECISION`` replaces the rule for every run of an environment (the test suite pins
``32-true`` so that its numbers do not depend on the CPU); ``trainer.precision=...`` overrides it for one
run. The resolved value is what the run's config and checkpoints record.
"""

from __future__ import annotations

import os
from pathlib import Path

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
ENV = "GAN_DEFAULT_PRECISION"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith(("flags", "Features"))), "")
    return set(line.split(":", 1)[1].split()) if ":" in line else set()


def default_precision(accelerator: str = "auto", cuda_available: bool | None = None,
                      flags: set[str] | None = None) -> str:
    """``bf16-mixed`` for training on a CPU with native bf16, else ``32-true`` (see the module docstring)."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    if accelerator not in ("cpu", "auto"):
        return "32-true"
    if accelerator == "auto":
        if cuda_available is None:
            import torch

            cuda_available = torch.cuda.is_available()
        if cuda_available:
            return "32-true"
    return "bf16-mixed" if set(BF16_CPU_FLAGS) & (cpu_flags() if flags is None else flags) else "32-true"

