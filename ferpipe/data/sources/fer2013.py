"""FER-2013, from the original `fer2013.csv` or from the Kaggle image-folder layout.

Splits follow the original Usage column: Training -> train, PublicTest -> val, PrivateTest -> test.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.core.textfile import read_text
from ferpipe.data.dataset import ImageRecord
from ferpipe.data.images import list_images, read_image
from ferpipe.data.sources.locate import find_root

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLIT_RULE = ("Usage Training -> train, PublicTest -> val, PrivateTest -> test; in folders, train/ and the "
              "PublicTest_ and PrivateTest_ files of test/")
CSV_COLUMNS = {"emotion", "pixels", "Usage"}
SIDE = 48


def _is_root(folder: Path) -> bool:
    return (folder / "fer2013.csv").is_file() or ((folder / "train").is_dir() and (folder / "test").is_dir())


def load(path: Path) -> tuple[list[str], list[ImageRecord]]:
    if path.is_file():
        return CLASSES, load_csv(path)
    root = find_root(path, _is_root, "fer2013.csv or train/ and test/ class folders")
    if (root / "fer2013.csv").is_file():
        return CLASSES, load_csv(root / "fer2013.csv")
    return CLASSES, load_folders(root)


def _parse_pixels(text: str, where: str) -> np.ndarray:
    parts = text.split()
    if len(parts) != SIDE * SIDE:
        raise FerpipeError(f"{where}: 'pixels' has {len(parts)} values, expected {SIDE * SIDE} (48x48)")
    try:
        values = np.array(parts, dtype=np.int64)
    except (ValueError, OverflowError) as exc:  # OverflowError: a value beyond int64
        raise FerpipeError(f"{where}: 'pixels' holds a value that is not an integer in 0..255") from exc
    if values.min() < 0 or values.max() > 255:
        raise FerpipeError(f"{where}: 'pixels' values must lie in 0..255")
    return values.astype(np.uint8).reshape(SIDE, SIDE)


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-empty row after the header, which must name CSV_COLUMNS;
    every row must have as many fields as the header (a cut last line, an extra field, a stray quote
    are errors naming the line)."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = [c.strip() for c in next(reader, [])]
        if set(header) != CSV_COLUMNS or len(header) != len(CSV_COLUMNS):
            raise FerpipeError(f"{path}: expected columns {sorted(CSV_COLUMNS)}, found {header}")
        line = reader.line_num
        for fields in reader:
            if fields:
                if len(fields) != len(header):
                    raise FerpipeError(f"{path}:{line + 1}: {len(fields)} fields, expected {len(header)} "
                                       f"({','.join(header)}); a cut line, an extra comma or a stray quote?")
                yield line + 1, dict(zip(header, fields))
            line = reader.line_num
    except csv.Error as exc:
        raise FerpipeError(f"{path}:{reader.line_num}: not a valid csv row ({exc}); a stray quote?") from exc


def load_csv(path: Path) -> list[ImageRecord]:
    records = []
    for line, row in tqdm(_csv_rows(path), desc="fer2013.csv", unit=" rows"):
        where = f"{path}:{line}"
        usage = row["Usage"].strip()
        if usage not in USAGE_TO_SPLIT:
            raise FerpipeError(f"{where}: Usage {usage!r} is not one of {sorted(USAGE_TO_SPLIT)}")
        try:
            label = int(row["emotion"])
        except ValueError as exc:
            raise FerpipeError(f"{where}: emotion {row['emotion']!r} is not an integer") from exc
        if not 0 <= label < len(CLASSES):
            raise FerpipeError(f"{where}: emotion {label} is out of range 0..{len(CLASSES) - 1}")
        records.append(ImageRecord(USAGE_TO_SPLIT[usage], label, "", f"fer2013.csv:{line}", _parse_pixels(row["pixels"], where)))
    if not records:
        raise FerpipeError(f"{path}: no rows")
    return records


def _class_folders(split_dir: Path) -> list[tuple[int, Path]]:
    folders = sorted(p for p in split_dir.iterdir() if p.is_dir())
    unknown = [p.name for p in folders if p.name.lower() not in CLASSES]
    if unknown:
        raise FerpipeError(f"{split_dir}: unknown class folder(s) {unknown}; expected {CLASSES}")
    found = {p.name.lower() for p in folders}
    missing = [c for c in CLASSES if c not in found]
    if missing:
        raise FerpipeError(f"{split_dir}: class folder(s) missing: {missing}")
    return [(CLASSES.index(p.name.lower()), p) for p in folders]


def _split_of_test_file(path: Path) -> str:
    for prefix, split in (("PublicTest_", "val"), ("PrivateTest_", "test")):
        if path.name.startswith(prefix):
            return split
    raise FerpipeError(f"{path}: test image names must start with PublicTest_ (val) or PrivateTest_ (test)")


def load_folders(root: Path) -> list[ImageRecord]:
    jobs = []
    for part in ("train", "test"):
        for label, folder in _class_folders(root / part):
            files = list_images(folder)
            if not files:
                raise FerpipeError(f"{folder}: class folder holds no images")
            for f in files:
                split = "train" if part == "train" else _split_of_test_file(f)
                jobs.append((split, label, f))
    return [ImageRecord(split, label, "", str(f.relative_to(root)), read_image(f, "L"))
            for split, label, f in tqdm(jobs, desc="fer2013 images", unit=" img")]
