"""The default precision: bf16-mixed only where the CPU has native bf16 and no GPU is in use."""

from pathlib import Path

from gan_experiments.config.precision import cpu_flags, default_precision


def test_bf16_only_on_cpus_with_native_bf16_and_no_cuda():
    assert default_precision(cuda_available=False, flags={"avx512f", "avx512_bf16"}) == "bf16-mixed"
    assert default_precision(cuda_available=False, flags={"amx_bf16", "amx_tile"}) == "bf16-mixed"
    assert default_precision(cuda_available=False, flags={"avx2", "avx512f", "avx512bw"}) == "32-true"  # emulated
    assert default_precision(cuda_available=True, flags={"avx512_bf16"}) == "32-true"  # GPUs: not measured


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx512_bf16 amx_tile\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx512_bf16", "amx_tile"}
    assert cpu_flags(Path(tmp_path / "missing")) == set()
