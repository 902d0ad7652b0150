"""What the faces stage reports: detection counts per split and a grid of sample crops."""
from __future__ import annotations

from typing import Any

import numpy as np

from ferpipe.core.image_grid import Cell, save_image_grid
from ferpipe.faces.crop import SplitFaces


def _counts(found: np.ndarray, confidence: np.ndarray, dropped: int) -> dict[str, Any]:
    images = len(found) + dropped
    detected = int(found.sum())
    return {
        "images": images,
        "detected": detected,
        "fallback": len(found) - detected,
        "dropped": dropped,
        "detection_rate": round(detected / images, 6) if images else None,
        "mean_confidence": round(float(confidence[found].mean()), 6) if detected else None,
    }


def detection_report(splits: dict[str, SplitFaces]) -> dict[str, Any]:
    report = {name: _counts(s.found, s.confidence, s.dropped) for name, s in splits.items()}
    every = list(splits.values())
    report["all"] = _counts(np.concatenate([s.found for s in every]), np.concatenate([s.confidence for s in every]),
                            sum(s.dropped for s in every))
    return report


def _evenly(indices: np.ndarray, k: int) -> list[int]:
    if k >= len(indices):
        return list(indices)
    return list(indices[np.linspace(0, len(indices) - 1, k).round().astype(int)])


def plot_samples(path, splits: dict[str, SplitFaces], classes: list[str], per_class: int = 8) -> None:
    """Crops per class (all splits), with a quarter of each row given to no-face fallbacks where any exist."""
    every = list(splits.values())
    images = np.concatenate([s.images for s in every])
    labels = np.concatenate([s.labels for s in every])
    found = np.concatenate([s.found for s in every])
    confidence = np.concatenate([s.confidence for s in every])
    rows = []
    for c in range(len(classes)):
        idx = np.flatnonzero(labels == c)
        fallbacks, detected = idx[~found[idx]], idx[found[idx]]
        n_fallback = min(len(fallbacks), max(1, per_class // 4))
        picks = _evenly(fallbacks, n_fallback) + _evenly(detected, per_class - n_fallback)
        rows.append([Cell(images[i], "no face" if not found[i] else f"p={confidence[i]:.3f}", not found[i])
                     for i in picks])
    save_image_grid(path, rows, classes, "MTCNN face crops (red: no face found, whole frame kept)")
