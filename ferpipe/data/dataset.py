"""The canonical on-disk dataset that `fetch` writes and every later stage reads.

A dataset folder holds three files:
- `images.npy`: every image's pixels, uint8, concatenated into one flat buffer (memory-mapped on
  read, so 36k images are one file for DVC to hash, not 36k);
- `index.csv`: one row per image: `id,split,label,label_name,subject,origin,offset,height,width,channels`
  (`origin` is where the image came from: a file path inside the source, or a csv row);
- `meta.json`: dataset name, class names (label id = position), splits, content hash.

Images are 2-D greyscale (channels 1) or RGB (channels 3), of any size.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from annotated_types import Ge

import numpy as np

from ferpipe.core.errors import FerpipeError
from ferpipe.core.records import ClassNames, Name, Record, Sha256, read_record
from ferpipe.core.textfile import read_text
from ferpipe.data.pixels import pixel_hash

SPLITS = ("train", "val", "test")
INDEX_COLUMNS = ["id", "split", "label", "label_name", "subject", "origin", "offset", "height", "width", "channels"]


@dataclass
class ImageRecord:
    """One image of a dataset, as a source loader gives it and `write_dataset` stores it (a row of index.csv)."""
    split: str
    label: int
    subject: str
    origin: str  # where the image came from: a file path inside the dataset source, or a csv row
    image: np.ndarray


class Meta(Record):
    """meta.json."""
    dataset: Name
    classes: ClassNames
    num_images: Annotated[int, Ge(0)]
    content_hash: Sha256


def content_hash(records: list[ImageRecord]) -> str:
    """Order-independent hash of the whole dataset: pixels, labels and splits."""
    rows = sorted(f"{r.split}:{r.label}:{pixel_hash(r.image)}" for r in records)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _check_record(rec: ImageRecord, n_classes: int) -> None:
    if rec.split not in SPLITS:
        raise FerpipeError(f"{rec.origin}: split {rec.split!r} is not one of {SPLITS}")
    if not 0 <= rec.label < n_classes:
        raise FerpipeError(f"{rec.origin}: label {rec.label} is out of range 0..{n_classes - 1}")
    img = rec.image
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise FerpipeError(f"{rec.origin}: expected a uint8 grey or RGB image, got {img.dtype} {img.shape}")


def write_dataset(folder: Path, name: str, classes: list[str], records: list[ImageRecord]) -> dict:
    """Write records into `folder` (which must not exist yet); return the meta written."""
    for rec in records:
        _check_record(rec, len(classes))
    folder.mkdir(parents=True)
    sizes = [r.image.size for r in records]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    buffer = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8, shape=(int(offsets[-1]),))
    with open(folder / "index.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(INDEX_COLUMNS)
        for i, rec in enumerate(records):
            buffer[offsets[i]:offsets[i + 1]] = rec.image.reshape(-1)
            h, w = rec.image.shape[:2]
            c = 1 if rec.image.ndim == 2 else 3
            writer.writerow([i, rec.split, rec.label, classes[rec.label], rec.subject, rec.origin, offsets[i], h, w, c])
    buffer.flush()
    del buffer
    meta = {
        "dataset": name,
        "classes": list(classes),
        "num_images": len(records),
        "content_hash": content_hash(records),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


class Dataset:
    """Read access to a canonical dataset folder, checked on opening: a damaged file is an error naming it."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        for fname in ("images.npy", "index.csv", "meta.json"):
            if not (self.folder / fname).is_file():
                raise FerpipeError(f"{self.folder}: not a ferpipe dataset (missing {fname}); run the fetch stage")
        self.meta = self._read_meta(self.folder / "meta.json")
        self.classes: list[str] = list(self.meta.classes)
        self._pixels = self._read_pixels(self.folder / "images.npy")
        self.rows = self._read_index(self.folder / "index.csv")
        if len(self.rows) != self.meta.num_images:
            raise FerpipeError(f"{self.folder / 'index.csv'}: {len(self.rows)} rows, but meta.json counts "
                               f"{self.meta.num_images} images; rerun the fetch stage")
        self.splits = np.array([r["split"] for r in self.rows])
        self.labels = np.array([int(r["label"]) for r in self.rows], dtype=np.int64)

    @staticmethod
    def _read_meta(path: Path) -> Meta:
        return read_record(path, Meta, "rerun the fetch stage")

    @staticmethod
    def _read_pixels(path: Path) -> np.ndarray:
        try:
            pixels = np.load(path, mmap_mode="r")
        except (ValueError, OSError, EOFError) as exc:
            raise FerpipeError(f"{path}: not a readable .npy pixel buffer ({exc})") from exc
        if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim == 1):
            raise FerpipeError(f"{path}: expected one flat uint8 array of pixels")
        return pixels

    def _read_index(self, path: Path) -> list[dict[str, str]]:
        reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
        try:
            missing = [c for c in INDEX_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise FerpipeError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(INDEX_COLUMNS)}")
            rows = list(reader)
        except csv.Error as exc:
            raise FerpipeError(f"{path}:{reader.line_num}: not a valid csv row ({exc}); rerun the fetch stage") from exc
        for line, row in enumerate(rows, start=2):
            problem = self._row_problem(row)
            if problem:
                raise FerpipeError(f"{path}:{line}: {problem}")
        return rows

    def _row_problem(self, row: dict[str, str]) -> str | None:
        try:
            label, offset, h, w, c = (int(row[k]) for k in ("label", "offset", "height", "width", "channels"))
        except (TypeError, ValueError):
            return "label, offset, height, width and channels must be integers"
        if row["split"] not in SPLITS:
            return f"split {row['split']!r} is not one of {', '.join(SPLITS)}"
        if not 0 <= label < len(self.classes):
            return f"label {label} is outside the class range 0..{len(self.classes) - 1}"
        if c not in (1, 3) or h < 1 or w < 1 or offset < 0 or offset + h * w * c > len(self._pixels):
            return f"image {h}x{w}x{c} at offset {offset} does not fit images.npy ({len(self._pixels)} bytes)"
        return None

    def __len__(self) -> int:
        return len(self.rows)

    def image(self, i: int) -> np.ndarray:
        row = self.rows[i]
        h, w, c = int(row["height"]), int(row["width"]), int(row["channels"])
        start = int(row["offset"])
        flat = np.asarray(self._pixels[start:start + h * w * c])
        return flat.reshape((h, w) if c == 1 else (h, w, 3))

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.splits == split)
