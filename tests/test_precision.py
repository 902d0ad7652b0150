"""`auto` for the precision and the loop: read from the CPU's flags (x86 `flags`, Arm `Features`), never its name."""
from __future__ import annotations

import pytest

from ferpipe.nn.precision import cpu_flags, native_bf16, resolve_loop, resolve_precision

ZEN5 = "processor\t: 0\nmodel name\t: AMD EPYC 9B45\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
ICE_LAKE = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor @ 2.80GHz\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"
SAPPHIRE = "model name\t: Intel(R) Xeon(R) Platinum 8480+ (bf16 in the name means nothing)\nflags\t: avx512f amx_bf16 amx_tile\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


@pytest.mark.parametrize("cpuinfo, native", [(ZEN5, True), (ICE_LAKE, False), (SAPPHIRE, True), (GRAVITON3, True),
                                             ("model name\t: AVX512_BF16 lookalike\n", False), ("", False)])
def test_native_bf16_is_read_from_the_flags(tmp_path, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert native_bf16(cpu_flags(path)) is native


def test_an_unreadable_cpuinfo_means_no_flags(tmp_path):
    assert cpu_flags(tmp_path / "absent") == frozenset()


@pytest.mark.parametrize("setting, arch, gpu, loop", [
    ("auto", "resnet50", False, "torch"), ("auto", "resnet50", True, "keras"), ("auto", "lenet", False, "keras"),
    ("keras", "resnet50", False, "keras"), ("torch", "resnet50", True, "torch"),
])
def test_the_loop(setting, arch, gpu, loop):
    assert resolve_loop(setting, arch, gpu) == loop


def test_auto_precision_on_a_gpu_and_explicit_choices():
    assert resolve_precision("auto", True, frozenset({"avx512_bf16"})) == "mixed_float16"
    assert resolve_precision("float32", False, frozenset({"avx512_bf16"})) == "float32"
    assert resolve_precision("mixed_bfloat16", False, frozenset()) == "mixed_bfloat16"
