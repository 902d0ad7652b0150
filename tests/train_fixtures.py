"""Tiny learnable data and parameters for the train / evaluate_softmax tests."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ferpipe.data.arrays import save_split

CLASSES = ["dark", "mid", "bright"]
PARAMS = {
    "arch": "lenet", "backend": "tensorflow", "weights": "none", "lr": 0.05, "batch_size": 8, "epochs": 3,
    "n_kerns": [4, 8], "pool_size": [2, 2],
    "train": {"input_size": 32, "head_epochs": 0, "dropout": 0.0, "momentum": 0.0, "nesterov": False,
              "weight_decay": 0.0, "schedule": "constant", "steps_per_epoch": None,
              "mixed_precision": "mixed_float16", "seed": 0},
}


def params(**overrides) -> dict:
    """PARAMS with top-level overrides; `train_<key>` overrides a key of the train block."""
    out = copy.deepcopy(PARAMS)
    for key, value in overrides.items():
        if key.startswith("train_"):
            out["train"][key[len("train_"):]] = value
        else:
            out[key] = value
    return out


def toy_split(n: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Noisy crops whose class is their brightness: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    images = rng.integers(0, 60, (n, size, size)) + labels[:, None, None] * 90
    return images.astype(np.uint8), labels.astype(np.int64)


def write_toy_splits(folder: Path, n_train: int = 48, size: int = 32) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 1), ("val", 12, 2), ("test", 15, 3)):
        images, labels = toy_split(n, seed, size)
        save_split(folder / f"{split}.npz", images, labels, np.arange(n) + 1000 * seed, CLASSES)
    return folder
