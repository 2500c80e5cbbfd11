"""The default training precision: the fastest one that keeps quality on the machine at hand.

``trainer.precision: ${default_precision:}`` resolves to ``bf16-mixed`` on a CPU-only machine whose CPU has
native bfloat16 arithmetic (the ``avx512_bf16`` or ``amx_bf16`` flags: oneDNN then runs bf16 convolutions
and matrix products at about twice the fp32 rate), else ``32-true``: CPUs without those flags emulate bf16
slowly, and on GPUs no speed and quality comparison has been measured yet (benchmarks/README.md). Set
``trainer.precision`` to override it; the resolved value is what the run's config and checkpoints record.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith(("flags", "Features"))), "")
    return set(line.split(":", 1)[1].split()) if ":" in line else set()


def default_precision(cuda_available: bool | None = None, flags: set[str] | None = None) -> str:
    """``bf16-mixed`` without CUDA on a CPU with native bf16, else ``32-true`` (see the module docstring)."""
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return "32-true"
    return "bf16-mixed" if set(BF16_CPU_FLAGS) & (cpu_flags() if flags is None else flags) else "32-true"


def register() -> None:
    if not OmegaConf.has_resolver("default_precision"):
        OmegaConf.register_new_resolver("default_precision", lambda: default_precision())
