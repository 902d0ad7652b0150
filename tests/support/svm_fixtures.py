"""Synthetic embeddings and parameters for the svm / compare tests."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ferpipe.features.files import save_embeddings

SVM_PARAMS = {"C": [1, 10], "gamma": ["scale"], "pca": None, "class_weight": None, "refit_on": "train",
              "probability": False, "grid_rows": None, "backend": "sklearnex", "seed": 0}
COMPARE_PARAMS = {"bootstrap": 1000, "seed": 0}


def params(**svm_overrides) -> dict:
    return {"svm": {**copy.deepcopy(SVM_PARAMS), **svm_overrides}, "compare": dict(COMPARE_PARAMS)}


def blobs(n: int, classes: int, dims: int, seed: int, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around fixed class centres (the same centres for every seed)."""
    centres = np.random.default_rng(1234).normal(0, 3, (classes, dims))
    labels = np.arange(n) % classes
    return (centres[labels] + np.random.default_rng(seed).normal(0, spread, (n, dims))).astype(np.float32), labels


def write_blob_embeddings(folder: Path, classes: int = 7, dims: int = 16, n_train: int = 210) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"class{k}" for k in range(classes)]
    for split, n, seed in (("train", n_train, 1), ("val", 7 * classes, 2), ("test", 9 * classes, 3)):
        x, y = blobs(n, classes, dims, seed)
        save_embeddings(folder / f"{split}.npz", x, y, np.arange(n) + 1000 * seed, names)
    return folder
