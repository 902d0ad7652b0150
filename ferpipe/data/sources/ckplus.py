"""CK+ in the common CK+48 layout: `<class>/S<subject>_<sequence>_<frame>.png`, 48x48 grey.

Two split protocols:
- `subject`: whole subjects go to one split (seeded), so no person is in two splits, stratified by
  class so that every class is in every split wherever its subjects allow;
- `paper`: the seed paper's frame-level split, per class 56 train / 7 val / 7 test, for the classes
  that have at least 70 images. Frames of one sequence then land in train and test alike: the data
  audit's subject overlap shows that leak.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.data.dataset import ImageRecord
from ferpipe.data.images import list_images, read_image
from ferpipe.data.sources.locate import find_root
from ferpipe.data.splits import per_class_count_split, subject_split

CLASSES = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
PAPER_COUNTS = {"train": 56, "val": 7, "test": 7}
NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")


def _is_root(folder: Path) -> bool:
    return any((folder / c).is_dir() for c in CLASSES)


def scan(root: Path) -> list[tuple[int, str, Path]]:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in folders if p.name not in CLASSES]
    if unknown:
        raise FerpipeError(f"{root}: unknown class folder(s) {unknown}; expected {CLASSES}")
    items = []
    for folder in folders:
        files = list_images(folder)
        if not files:
            raise FerpipeError(f"{folder}: class folder holds no images")
        for f in files:
            match = NAME.match(f.stem)
            if not match:
                raise FerpipeError(f"{f}: name does not follow S<subject>_<sequence>_<frame>")
            items.append((CLASSES.index(folder.name), match.group(1), f))
    return items


def load(path: Path, protocol: str, val_fraction: float, test_fraction: float, seed: int
         ) -> tuple[list[str], list[ImageRecord]]:
    root = find_root(path, _is_root, f"CK+48 class folders ({', '.join(CLASSES)})")
    items = scan(root)
    labels = np.array([label for label, _, _ in items])
    if protocol == "subject":
        classes = sorted({CLASSES[label] for label in labels}, key=CLASSES.index)
        splits = subject_split(np.array([s for _, s, _ in items]), labels, val_fraction, test_fraction, seed)
    else:
        needed = sum(PAPER_COUNTS.values())
        counts = np.bincount(labels, minlength=len(CLASSES))
        classes = [c for c, n in zip(CLASSES, counts) if n >= needed]
        if not classes:
            raise FerpipeError(f"{root}: no class has the {needed} images the paper protocol needs")
        splits = per_class_count_split(labels, PAPER_COUNTS, seed)
        splits[counts[labels] < needed] = "unused"
    return classes, [
        ImageRecord(split, classes.index(CLASSES[label]), subject, str(f.relative_to(root)), read_image(f, "L"))
        for (label, subject, f), split in tqdm(list(zip(items, splits)), desc="ck+ images", unit=" img")
        if split != "unused"
    ]
