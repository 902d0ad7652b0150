"""Seeded train/val/test assignment for datasets that ship without an official split."""
from __future__ import annotations

import numpy as np

from ferpipe.core.errors import FerpipeError, require


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    require(val_fraction + test_fraction < 1,
            f"fetch.val_fraction + fetch.test_fraction must be below 1, got {val_fraction + test_fraction}")


def _assign(n: int, val_fraction: float, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    # At least one val and one test item from any group of three or more, so small classes are evaluated.
    n_val = max(int(round(n * val_fraction)), int(n >= 3))
    n_test = max(int(round(n * test_fraction)), int(n >= 3))
    splits = np.array(["train"] * (n - n_val - n_test) + ["val"] * n_val + ["test"] * n_test)
    return splits[rng.permutation(n)]


def _check_nonempty(splits: np.ndarray, what: str) -> np.ndarray:
    for split in ("train", "val", "test"):
        if not (splits == split).any():
            raise FerpipeError(f"the {split} split would be empty with {what}: raise fetch.val_fraction / "
                               f"fetch.test_fraction or use more data")
    return splits


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Split each class separately in the given proportions."""
    check_fractions(val_fraction, test_fraction)
    rng = np.random.default_rng(seed)
    splits = np.empty(len(labels), dtype=object)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        splits[members] = _assign(len(members), val_fraction, test_fraction, rng)
    return _check_nonempty(splits.astype(str), f"{len(labels)} images")


def subject_split(subjects: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Assign whole subjects to splits, so no person appears in two splits."""
    check_fractions(val_fraction, test_fraction)
    rng = np.random.default_rng(seed)
    unique = np.unique(subjects)
    per_subject = dict(zip(unique, _assign(len(unique), val_fraction, test_fraction, rng)))
    return _check_nonempty(np.array([per_subject[s] for s in subjects]), f"{len(unique)} subjects")


def per_class_count_split(labels: np.ndarray, counts: dict[str, int], seed: int) -> np.ndarray:
    """Draw exactly `counts[split]` images per class (the rest marked "unused"), seeded."""
    rng = np.random.default_rng(seed)
    splits = np.full(len(labels), "unused", dtype=object)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for split, count in counts.items():
            splits[members[start:start + count]] = split
            start += count
    return splits.astype(str)
