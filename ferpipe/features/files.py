"""Deep-feature files written by `embed` and read by `svm` (no deep-learning framework needed).

An embeddings file `<folder>/<split>.npz` holds `features` float32 (N, D) (the trained network's
`features` layer), `labels` int64 (N,), `ids` int64 (N,) (canonical dataset row ids; augmented training copies share
their source image's id) and
`classes` str (K,).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
from ferpipe.core.fixed_zip import save_npz
from ferpipe.core.npz import read_arrays

SPLITS = ("train", "val", "test")
FIELDS = ("features", "labels", "ids", "classes")


def save_embeddings(path: str | Path, features: np.ndarray, labels: np.ndarray, ids: np.ndarray,
                    classes: list[str]) -> None:
    save_npz(path, {"features": np.asarray(features, dtype=np.float32), "labels": np.asarray(labels, dtype=np.int64),
                    "ids": np.asarray(ids, dtype=np.int64), "classes": np.asarray(classes, dtype=str)})


def load_embeddings(path: str | Path) -> dict[str, np.ndarray]:
    """One split's features, checked: rows match labels and ids, every value finite, labels in range."""
    path = Path(path)
    out = read_arrays(path, FIELDS, "embeddings", "run the embed stage")
    features, labels, ids = out["features"], out["labels"], out["ids"]
    require(features.ndim == 2 and features.shape[0] > 0 and features.shape[1] > 0
            and np.issubdtype(features.dtype, np.floating),
            f"{path}: features must be a non-empty 2-D float array, got {features.dtype} {features.shape}")
    require(labels.shape == (len(features),) and ids.shape == (len(features),),
            f"{path}: {len(features)} feature rows but {labels.shape[0] if labels.ndim else 0} labels "
            f"and {ids.shape[0] if ids.ndim else 0} ids")
    k = len(out["classes"])
    require(labels.min() >= 0 and labels.max() < k, f"{path}: labels outside 0..{k - 1}")
    bad = int(np.count_nonzero(~np.isfinite(features)))
    require(bad == 0, f"{path}: {bad} feature values are NaN or infinite")
    out["features"] = features.astype(np.float32, copy=False)
    return out


def load_embedding_splits(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """train, val and test of one embeddings folder, with the same classes and feature size."""
    folder = Path(folder)
    splits = {split: load_embeddings(folder / f"{split}.npz") for split in SPLITS}
    classes, dim = list(splits["train"]["classes"]), splits["train"]["features"].shape[1]
    for split in SPLITS[1:]:
        require(list(splits[split]["classes"]) == classes,
                f"{folder / f'{split}.npz'}: its classes differ from those of {folder / 'train.npz'}")
        require(splits[split]["features"].shape[1] == dim,
                f"{folder / f'{split}.npz'}: {splits[split]['features'].shape[1]} features per row, "
                f"train has {dim}")
    return splits
