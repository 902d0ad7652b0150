"""Seeded train/val/test assignment for datasets that ship without an official split, and k-fold.

The parameters (fractions, fold numbers) are checked by the fetch settings before these run, and
`fetch` checks that no split came out empty, so nothing here names a parameter.
"""
from __future__ import annotations

import numpy as np


def _assign(n: int, val_fraction: float, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    # At least one val and one test item from any group of three or more, so small classes are evaluated.
    n_val = max(int(round(n * val_fraction)), int(n >= 3))
    n_test = max(int(round(n * test_fraction)), int(n >= 3))
    splits = np.array(["train"] * (n - n_val - n_test) + ["val"] * n_val + ["test"] * n_test)
    return splits[rng.permutation(n)]


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Split each class separately in the given proportions."""
    rng = np.random.default_rng(seed)
    splits = np.empty(len(labels), dtype=object)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        splits[members] = _assign(len(members), val_fraction, test_fraction, rng)
    return splits.astype(str)


def group_parts(groups: np.ndarray, labels: np.ndarray, fractions: list[float], rng: np.random.Generator
                ) -> np.ndarray:
    """Assign whole groups (e.g. subjects) to parts of the given fractions, stratified by class.

    Returns the part index of each item. The aim is per-class counts close to fraction x class
    total, measured as the squared distance with each class scaled by its total (so a small class
    counts as much as a large one). Greedy, then refined:
    1. cover: for each class, rarest first (fewest groups), every part that holds none of it gets
       the fitting group holding it, while unassigned such groups remain; parts are served in the
       order given, so a class with too few groups reaches the first parts only;
    2. fill: the other groups, largest first (seeded order among equals), each go to the part
       where the distance grows least; ties go to the part furthest below its overall target;
    3. swap groups between parts while that shortens the distance (groups of several items only:
       with one item per group, fill already deals each class round-robin, so per-class counts of
       equal-fraction parts differ by at most one).
    """
    names, group_of = np.unique(groups, return_inverse=True)
    classes, label_of = np.unique(labels, return_inverse=True)
    counts = np.zeros((len(names), len(classes)))
    np.add.at(counts, (group_of, label_of), 1)
    sizes, totals = counts.sum(axis=1), counts.sum(axis=0)
    share = counts / totals  # each class scaled by its total
    targets = np.asarray(fractions, dtype=float)[:, None] * np.ones(len(classes))
    assigned = np.zeros_like(targets)
    filled = np.zeros(len(fractions))  # items per part
    part_of = np.full(len(names), -1)
    order = rng.permutation(len(names))  # seeded order among otherwise equal groups

    def growth(candidates: np.ndarray, part: int | slice) -> np.ndarray:
        now = assigned[part] - targets[part]
        return ((now + share[candidates]) ** 2 - now ** 2).sum(axis=-1)

    def place(group: int, part: int) -> None:
        part_of[group] = part
        assigned[part] += share[group]
        filled[part] += sizes[group]

    for c in sorted(range(len(classes)), key=lambda c: ((counts[:, c] > 0).sum(), c)):
        for part in range(len(fractions)):
            free = order[(part_of[order] < 0) & (counts[order, c] > 0)]
            if assigned[part, c] == 0 and len(free):
                place(free[np.argmin(growth(free, part))], part)
    for g in sorted(order[part_of[order] < 0], key=lambda g: -sizes[g]):
        ahead = filled - np.asarray(fractions) * sizes.sum()
        place(g, int(np.lexsort((ahead, growth(g, slice(None))))[0]))
    if sizes.max() > 1:
        _improve_by_swaps(share, targets, part_of)
    return part_of[group_of]


def _improve_by_swaps(share: np.ndarray, targets: np.ndarray, part_of: np.ndarray) -> None:
    """Swap the pair of groups of two parts that shortens the distance most, until none does; a swap
    that would take the last group of a class out of a part is not made."""
    def distance(assigned_part, part):
        return ((assigned_part - targets[part]) ** 2).sum(axis=-1)

    for _ in range(len(part_of) ** 2):  # each swap shortens the distance: this bound is never reached
        members = [np.flatnonzero(part_of == p) for p in range(len(targets))]
        assigned = np.stack([share[m].sum(axis=0) for m in members])
        best, pair = -1e-12, None
        for p in range(len(targets)):
            for q in range(p + 1, len(targets)):
                a, b = members[p], members[q]
                gain = share[b][None, :, :] - share[a][:, None, :]  # (a, b, class): what p gains, q loses
                new_p, new_q = assigned[p] + gain, assigned[q] - gain
                delta = (distance(new_p, p) + distance(new_q, q) - distance(assigned[p], p) - distance(assigned[q], q))
                keeps = (((new_p > 1e-12) | (assigned[p] == 0)) & ((new_q > 1e-12) | (assigned[q] == 0))).all(axis=-1)
                delta = np.where(keeps, delta, np.inf)
                i, j = np.unravel_index(np.argmin(delta), delta.shape)
                if delta[i, j] < best:
                    best, pair = delta[i, j], (a[i], b[j])
        if pair is None:
            return
        part_of[list(pair)] = part_of[list(pair[::-1])]


def subject_split(subjects: np.ndarray, labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
                  ) -> np.ndarray:
    """Assign whole subjects to splits, so no person appears in two splits, stratified by class:
    every class is in every split wherever its subjects allow (test is served before val)."""
    order = ("train", "test", "val")
    fractions = [1 - val_fraction - test_fraction, test_fraction, val_fraction]
    parts = group_parts(np.asarray(subjects), np.asarray(labels), fractions, np.random.default_rng(seed))
    return np.array(order)[parts]


def kfold_split(labels: np.ndarray, groups: np.ndarray | None, folds: int, fold: int, val_fraction: float,
                seed: int) -> np.ndarray:
    """Fold `fold` of `folds` is test; val is `val_fraction` of the other folds, the rest train.

    Folds are stratified by class and made of whole groups (subjects) where groups are given, else
    of single images. The folds depend on the seed only, not on `fold`, so folds 0..k-1 of one seed
    cover every item exactly once.
    """
    labels = np.asarray(labels)
    groups = np.arange(len(labels)) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(seed)
    in_fold = group_parts(groups, labels, [1 / folds] * folds, rng)
    splits = np.where(in_fold == fold, "test", "train").astype("<U5")
    rest = np.flatnonzero(in_fold != fold)
    inner = group_parts(groups[rest], labels[rest], [1 - val_fraction, val_fraction], rng)
    splits[rest[inner == 1]] = "val"
    return splits


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
