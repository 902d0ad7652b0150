"""Saving matplotlib figures as PNG with the same bytes for the same figure (DVC hashes every plot).

Matplotlib's PNG carries no date, but its `Software` text chunk names the matplotlib version: dropped,
so that a plot's bytes depend on what it draws and the pinned renderer only.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIXED_METADATA = {"Software": None}


def save_png(fig, path: str | Path, dpi: int) -> None:
    """`fig` as a PNG at `path` (whatever its suffix: staged paths have a temporary one), then closed."""
    fig.savefig(path, format="png", dpi=dpi, metadata=FIXED_METADATA)
    plt.close(fig)
