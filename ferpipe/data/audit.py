"""Duplicate and leakage audit of a dataset, before anything is trained on it.

Pixel-identical images are found by hashing decoded pixels. Reported: identical groups overall,
evaluation images with a copy in train (leakage), identical images carrying different labels, blank
images, and, where subjects are known, people present in more than one split.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ferpipe.data.dataset import SPLITS, ImageRecord
from ferpipe.data.pixels import pixel_hash


def audit(records: list[ImageRecord]) -> dict:
    hashes = [pixel_hash(r.image) for r in records]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        groups[h].append(i)
    dup_groups = [g for g in groups.values() if len(g) > 1]
    in_split = {s: {h for h, r in zip(hashes, records) if r.split == s} for s in SPLITS}
    report = {
        "duplicate_groups": len(dup_groups),
        "duplicate_extra_copies": sum(len(g) - 1 for g in dup_groups),
        "conflicting_label_groups": sum(len({records[i].label for i in g}) > 1 for g in dup_groups),
        "blank_images": sum(int(r.image.min() == r.image.max()) for r in records),
    }
    for split in ("val", "test"):
        report[f"{split}_images_with_copy_in_train"] = sum(
            1 for h, r in zip(hashes, records) if r.split == split and h in in_split["train"])
    report["test_images_with_copy_in_val"] = sum(
        1 for h, r in zip(hashes, records) if r.split == "test" and h in in_split["val"])
    for split in SPLITS:
        report[f"conflicting_label_groups_within_{split}"] = sum(
            len({records[i].label for i in g if records[i].split == split}) > 1 for g in dup_groups)
    subjects = {s: {r.subject for r in records if r.split == s and r.subject} for s in SPLITS}
    if any(subjects.values()):
        report["subjects_in_several_splits"] = len(
            (subjects["train"] & subjects["val"]) | (subjects["train"] & subjects["test"]) | (subjects["val"] & subjects["test"]))
    return report


def drop_train_copies(records: list[ImageRecord]) -> tuple[list[ImageRecord], int]:
    """Remove training images that are pixel-identical to any val or test image."""
    evaluation = {pixel_hash(r.image) for r in records if r.split != "train"}
    kept = [r for r in records if r.split != "train" or pixel_hash(r.image) not in evaluation]
    return kept, len(records) - len(kept)


def class_counts(records: list[ImageRecord], classes: list[str]) -> dict:
    counts = {}
    for split in SPLITS:
        labels = np.array([r.label for r in records if r.split == split], dtype=np.int64)
        per_class = np.bincount(labels, minlength=len(classes))
        counts[split] = {"total": int(len(labels)), **{c: int(n) for c, n in zip(classes, per_class)}}
    return counts
