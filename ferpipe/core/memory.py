"""A check, before a stage allocates a large array, that the memory it needs is there: one error line
saying how much it needs, instead of numpy's MemoryError (or the kernel's OOM killer) half way."""
from __future__ import annotations

import os
from pathlib import Path

from ferpipe.core.errors import FerpipeError

MiB, GiB = 1 << 20, 1 << 30


def _size(n: int) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.1f} MiB"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable); None where it is unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require_memory(needed: int, what: str) -> None:
    """`needed` bytes for `what` ("augment.factor 100 x 28,709 training images") must be available."""
    available = available_memory()
    if available is not None and needed > available:
        raise FerpipeError(f"{what} needs {_size(needed)} of memory, and {_size(available)} is available")
