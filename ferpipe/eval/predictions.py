"""Test-set predictions of one classifier (softmax head or SVM), the input of `compare`.

A predictions file `.npz` holds `predicted` (N,), `labels` (N,), `ids` (N,) (canonical dataset row
ids), `classes` (K,) and, where the classifier gives them, `probabilities` (N, K).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
from ferpipe.core.fixed_zip import save_npz
from ferpipe.core.npz import read_arrays

FIELDS = ("predicted", "labels", "ids", "classes")


def save_predictions(path: str | Path, predicted: np.ndarray, labels: np.ndarray, ids: np.ndarray,
                     classes: list[str], probabilities: np.ndarray | None = None) -> None:
    arrays = {"predicted": np.asarray(predicted, dtype=np.int64), "labels": np.asarray(labels, dtype=np.int64),
              "ids": np.asarray(ids, dtype=np.int64), "classes": np.asarray(classes, dtype=str)}
    if probabilities is not None:
        arrays["probabilities"] = np.asarray(probabilities, dtype=np.float32)
    save_npz(path, arrays)


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    out = read_arrays(path, FIELDS, "predictions", "run the stage that writes it")
    n, k = len(out["labels"]), len(out["classes"])
    require(len(out["predicted"]) == n and len(out["ids"]) == n,
            f"{path}: predicted, labels and ids differ in length")
    for name in ("predicted", "labels"):
        require(n == 0 or (out[name].min() >= 0 and out[name].max() < k), f"{path}: {name} outside 0..{k - 1}")
    return out
