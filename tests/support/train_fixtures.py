"""Tiny learnable data for the train / evaluate_softmax tests (their parameters: `support.train_params`),
and a run of the training loop on it."""
from __future__ import annotations

import hashlib
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


def run(tmp_path: Path, cfg, n_train: int = 48, **kwargs):
    """`train` on the toy set (n_train training crops, 12 val), checkpoints in tmp_path."""
    from ferpipe.nn.training import train

    x, y = toy_split(n_train, seed=1)
    xv, yv = toy_split(12, seed=2)
    return train(cfg, x, y, xv, yv, len(CLASSES), tmp_path / "checkpoints", **kwargs)


def kill_after_epoch(n: int):
    """An epoch logger that interrupts training after epoch n, as a Ctrl-C would."""
    def log(entry):
        if entry["epoch"] == n:
            raise KeyboardInterrupt

    return log


def backbone_digests(backbone) -> dict[str, list[str]]:
    """Per-layer digests of the conv kernels, the BatchNorm scale/offset and its moving statistics."""
    import keras

    def digest(variable) -> str:
        return hashlib.sha256(np.array(variable).tobytes()).hexdigest()

    layers = backbone.layers
    bn = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    return {"kernels": [digest(layer.kernel) for layer in layers if isinstance(layer, keras.layers.Conv2D)],
            "bn_scale_offset": [digest(layer.gamma) + digest(layer.beta) for layer in bn],
            "bn_moving_stats": [digest(layer.moving_mean) + digest(layer.moving_variance) for layer in bn]}
