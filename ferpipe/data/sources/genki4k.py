"""GENKI-4K in its original layout: `files/file0001.jpg` ... and `labels.txt`.

`labels.txt` has one line per image, `smile yaw pitch roll`; line N belongs to fileN; smile is 1 or 0.
The images are colour photos of varying size, not cropped to the face. No official split: a seeded
split stratified by class.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.core.textfile import read_text
from ferpipe.data.dataset import ImageRecord
from ferpipe.data.images import list_images, read_image
from ferpipe.data.sources.locate import find_root
from ferpipe.data.splits import stratified_split

CLASSES = ["non_smile", "smile"]
LABEL_FILES = ("labels.txt", "GENKI-4K_Labels.txt")
FILE_NAME = re.compile(r"^file(\d+)$")


def _labels_file(folder: Path) -> Path | None:
    return next((folder / n for n in LABEL_FILES if (folder / n).is_file()), None)


def _is_root(folder: Path) -> bool:
    return (folder / "files").is_dir() and _labels_file(folder) is not None


def _read_labels(path: Path) -> list[int]:
    labels = []
    for n, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise FerpipeError(f"{path}:{n}: expected 4 columns 'smile yaw pitch roll', found {len(fields)}")
        try:
            [float(v) for v in fields[1:]]
            smile = int(fields[0])
        except ValueError as exc:
            raise FerpipeError(f"{path}:{n}: not numeric: {line!r}") from exc
        if smile not in (0, 1):
            raise FerpipeError(f"{path}:{n}: smile label {smile} is out of range 0..1")
        labels.append(smile)
    return labels


def load(path: Path, val_fraction: float, test_fraction: float, seed: int) -> tuple[list[str], list[ImageRecord]]:
    root = find_root(path, _is_root, "files/ and labels.txt (GENKI-4K)")
    labels_path = _labels_file(root)
    labels = _read_labels(labels_path)
    files = list_images(root / "files")
    if len(files) != len(labels):
        raise FerpipeError(f"{labels_path}: {len(labels)} label lines but {len(files)} images in {root / 'files'}")
    numbered: dict[int, Path] = {}
    for f in files:
        match = FILE_NAME.match(f.stem)
        if not match or not 1 <= int(match.group(1)) <= len(labels):
            raise FerpipeError(f"{f}: expected a name file0001 .. file{len(labels):04d}")
        number = int(match.group(1))
        if number in numbered:  # label line N belongs to one image only
            raise FerpipeError(f"{f}: number {number} also names {numbered[number].name}; each label line "
                               "belongs to one image")
        numbered[number] = f
    numbered = sorted(numbered.items())
    y = np.array([labels[n - 1] for n, _ in numbered])
    splits = stratified_split(y, val_fraction, test_fraction, seed)
    return CLASSES, [
        ImageRecord(split, int(label), "", str(f.relative_to(root)), read_image(f, "RGB"))
        for (_, f), label, split in tqdm(list(zip(numbered, y, splits)), desc="genki-4k images", unit=" img")
    ]
