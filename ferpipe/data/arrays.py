"""Per-split array files passed between the stages after `fetch` (faces, augment, train, embed).

A split file `<folder>/<split>.npz` holds:
- `images`: uint8 (N, S, S) greyscale face crops;
- `labels`: int64 (N,) class ids;
- `ids`: int64 (N,) row id of the source image in the canonical dataset (augmented copies keep
  the id of the image they come from, so leakage checks can trace them);
- `classes`: str (K,) class names, label id = position.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ferpipe.core.errors import FerpipeError
from ferpipe.core.textfile import opened_regular
from ferpipe.core.fixed_zip import save_npz

KEYS = ("images", "labels", "ids", "classes")


def save_split(path: str | Path, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, classes: list[str]) -> None:
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3 or len(images) != len(labels) or len(labels) != len(ids):
        raise ValueError(f"inconsistent split arrays for {path}: images {images.shape}, labels {len(labels)}, ids {len(ids)}")
    save_npz(path, {"images": images, "labels": np.asarray(labels, dtype=np.int64),
                    "ids": np.asarray(ids, dtype=np.int64), "classes": np.asarray(classes, dtype=str)})


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """The four arrays of a split file, checked: a file that is not one is an error naming it."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        raise FerpipeError(f"{path}: split file not found; run the stage that writes it")
    with opened_regular(path, "a split file (.npz)") as fh:  # a device or FIFO: refused, not read
        try:
            data = np.load(fh)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            with data:
                missing = set(KEYS) - set(data.files)
                if missing:
                    raise FerpipeError(f"{path}: not a ferpipe split file (missing {', '.join(sorted(missing))})")
                split = {k: data[k] for k in KEYS}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            cause = str(exc).split(". ")[0]  # numpy's advice to unpickle does not apply to split files
            raise FerpipeError(f"{path}: not a readable .npz split file ({cause})") from exc
    problem = _problem(**split)
    if problem:
        raise FerpipeError(f"{path}: {problem}; not a valid ferpipe split file")
    return split


def _problem(images: np.ndarray, labels: np.ndarray, ids: np.ndarray, classes: np.ndarray) -> str | None:
    if not (images.dtype == np.uint8 and images.ndim == 3 and images.shape[1] == images.shape[2] > 0):
        return f"images must be uint8 square crops (N, S, S), got {images.dtype} {images.shape}"
    for name, values in (("labels", labels), ("ids", ids)):
        if not (values.ndim == 1 and np.issubdtype(values.dtype, np.integer) and len(values) == len(images)):
            return f"{name} must be {len(images)} integers, one per image, got {values.dtype} {values.shape}"
    if not (classes.ndim == 1 and classes.dtype.kind == "U" and len(classes) >= 1):
        return f"classes must be a list of names, got {classes.dtype} {classes.shape}"
    outside = labels[(labels < 0) | (labels >= len(classes))]
    if len(outside):
        return f"label {outside[0]} is outside the class range 0..{len(classes) - 1}"
    return None
