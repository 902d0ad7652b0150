"""What the `train` stage runs on: the numeric precision and the training loop, chosen from the hardware
when params.yaml says `auto`.

bf16 pays only where the CPU executes it natively (x86 avx512_bf16 or AMX, Arm's bf16 extension);
elsewhere it is emulated and slower than float32 (measured: 31 against 248 GFLOP/s in a 4096x4096
matmul on an AVX-512 CPU without avx512_bf16). The CPU's flags decide, never its name. No keras or
torch import here: the stage decides before a framework is loaded.
"""
from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 AVX-512 / AMX, Arm (`Features` line)
GPU_PRECISION = "mixed_float16"  # `auto` on a GPU: float16 Tensor Cores since Volta, bf16 only from Ampere


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (`flags` on x86, `Features` on Arm); empty if unreadable."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16(flags: frozenset[str]) -> bool:
    return bool(NATIVE_BF16_FLAGS & flags)


def resolve_precision(setting: str, gpu: bool, flags: frozenset[str]) -> str:
    """The dtype policy to train under: the explicit setting, or for `auto` the hardware's best."""
    if setting != "auto":
        return setting
    if gpu:
        return GPU_PRECISION
    return "mixed_bfloat16" if native_bf16(flags) else "float32"


def resolve_loop(setting: str, arch: str, gpu: bool) -> str:
    """`keras` (model.fit on the Keras backend) or `torch` (the plain PyTorch loop of ResNet-50).

    `auto` takes the PyTorch loop for ResNet-50 on a CPU, where it measured fastest
    (docs/benchmarks.md), and Keras elsewhere: the LeNet and every GPU run keep the loop they had.
    """
    if setting != "auto":
        return setting
    return "torch" if arch == "resnet50" and not gpu else "keras"
