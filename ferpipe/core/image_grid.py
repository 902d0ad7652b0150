"""A PNG grid of small grey images with a caption under each and a label per row (stage plots)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ferpipe.core.figures import save_png  # noqa: E402


@dataclass
class Cell:
    image: np.ndarray
    caption: str = ""
    highlight: bool = False  # caption drawn in red (e.g. a no-face fallback)


def save_image_grid(path: str | Path, rows: list[list[Cell]], row_labels: list[str], title: str) -> None:
    n_cols = max((len(r) for r in rows), default=1) or 1
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.5 * n_cols + 1, 1.8 * len(rows) + 0.6), squeeze=False)
    for r, (cells, label) in enumerate(zip(rows, row_labels)):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(cells):
                cell = cells[c]
                ax.imshow(cell.image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                ax.set_xlabel(cell.caption, fontsize=7, color="red" if cell.highlight else "black")
            elif c > 0:  # the first column keeps its frame, so the row label shows on an empty row
                ax.axis("off")
        axes[r][0].set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    # Pass the format: the staged output path ends in a temporary suffix, not .png.
    save_png(fig, path, dpi=80)
