"""Per-split array files passed between the stages after `fetch` (faces, augment, train, embed).

A split file `<folder>/<split>.npz` holds:
- `images`: uint8 (N, S, S) greyscale face crops;
- `labels`: int64 (N,) class ids;
- `ids`: int64 (N,) row id of the source image in the canonical dataset (augmented copies keep
  the id of the image they come from, so leakage checks can trace them);
- `classes`: str (K,) class names, label id = position.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.core.errors import FerpipeError


def save_split(path: str | Path, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, classes: list[str]) -> None:
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3 or len(images) != len(labels) or len(labels) != len(ids):
        raise ValueError(f"inconsistent split arrays for {path}: images {images.shape}, labels {len(labels)}, ids {len(ids)}")
    # np.savez appends .npz to a name without it; write through a file handle to keep the name exact.
    with open(path, "wb") as fh:
        np.savez(fh, images=images, labels=np.asarray(labels, dtype=np.int64),
                 ids=np.asarray(ids, dtype=np.int64), classes=np.asarray(classes, dtype=str))


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FerpipeError(f"{path}: split file not found; run the stage that writes it")
    with np.load(path) as data:
        missing = {"images", "labels", "ids", "classes"} - set(data.files)
        if missing:
            raise FerpipeError(f"{path}: not a ferpipe split file (missing {', '.join(sorted(missing))})")
        return {k: data[k] for k in ("images", "labels", "ids", "classes")}
