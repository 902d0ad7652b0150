"""The augment stage on split files: train augmented, val and test copied byte for byte, a leak check
and an example plot."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ferpipe.augment.settings import AugmentSettings
from ferpipe.augment.transforms import Variants, augment
from ferpipe.core.errors import require
from ferpipe.core.image_grid import Cell, save_image_grid
from ferpipe.core.memory import require_memory
from ferpipe.data.arrays import load_split, save_split
from ferpipe.data.pixels import pixel_hash

EVAL_SPLITS = ("val", "test")


def eval_copies(train: np.ndarray, *evaluation: np.ndarray) -> int:
    """How many training images are pixel-identical to a val or test image (a leak, should be 0)."""
    seen = {pixel_hash(img) for split in evaluation for img in split}
    return sum(pixel_hash(img) in seen for img in train)


def plot_example(path, augmented: np.ndarray, v: Variants, n_images: int, per_row: int = 6) -> None:
    """The first training image and its variants (outputs laid out as augment() returns them)."""
    cells = [Cell(augmented[0], "original")]
    cells += [Cell(augmented[n_images + k], v.caption(k)) for k in np.flatnonzero(v.original == 0)]
    rows = [cells[i:i + per_row] for i in range(0, len(cells), per_row)]
    save_image_grid(path, rows, [""] * len(rows), f"one training image and its {len(cells) - 1} augmented variants")


def augment_folder(src: Path, dst: Path, s: AugmentSettings) -> tuple[dict[str, int], np.ndarray, Variants]:
    """Augment src/train.npz into dst/train.npz, copy val and test byte for byte; return the counts,
    the augmented training images and the draws."""
    train = load_split(src / "train.npz")
    evaluation = {split: load_split(src / f"{split}.npz") for split in EVAL_SPLITS}
    for split, data in evaluation.items():
        require(list(data["classes"]) == list(train["classes"]),
                f"{src / f'{split}.npz'}: class names differ from those of {src / 'train.npz'}")
    require(len(train["images"]) > 0, f"{src / 'train.npz'}: no training images to augment")
    require_memory(s.factor * train["images"].nbytes,
                   f"{s.params_file}: augment.factor {s.factor} x {len(train['images']):,} training images")
    images, original, v = augment(train["images"], s)
    dst.mkdir(parents=True, exist_ok=True)
    save_split(dst / "train.npz", images, train["labels"][original], train["ids"][original], list(train["classes"]))
    for split in EVAL_SPLITS:
        shutil.copyfile(src / f"{split}.npz", dst / f"{split}.npz")
    report = {
        "train_in": len(train["images"]),
        "train_out": len(images),
        **{split: len(data["images"]) for split, data in evaluation.items()},
        "eval_copies_in_train": eval_copies(images, *(d["images"] for d in evaluation.values())),
    }
    return report, images, v
