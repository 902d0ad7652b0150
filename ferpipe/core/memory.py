"""A check, before a stage allocates a large array, that the memory it needs is there: one error line
saying how much it needs, instead of numpy's MemoryError (or the kernel's OOM killer) half way; and
sizes in words for such lines."""
from __future__ import annotations

import os
from pathlib import Path

from ferpipe.core.errors import FerpipeError

MiB, GiB = 1 << 20, 1 << 30


def size_text(n: int) -> str:
    """`n` bytes in words: 0.5 KiB, 1.1 MiB, 3.0 GiB."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB")):
        if n >= unit:
            return f"{n / unit:.1f} {name}"
    return f"{n / 1024:.1f} KiB"


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
        raise FerpipeError(f"{what} needs {size_text(needed)} of memory, and {size_text(available)} is available")
