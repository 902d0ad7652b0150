"""Tiny learnable data for the train / evaluate_softmax tests (their parameters: `ferpipe.testing.train_params`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.data.arrays import save_split

CLASSES = ["dark", "mid", "bright"]


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
