"""Cutting the chosen face out of each image (margin, optional eye alignment), the no-face
fallback, and the per-split crops of a whole canonical dataset."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.data.arrays import save_split
from ferpipe.data.dataset import SPLITS, Dataset
from ferpipe.data.images import check_image_side
from ferpipe.faces.detector import Face, FaceDetector, detect_batches, to_rgb
from ferpipe.faces.settings import FaceSettings


def face_matrix(face: Face, margin: float, align: bool) -> tuple[np.ndarray, int]:
    """Affine map from the original image onto a square crop (side px) centred on the face box."""
    x1, y1, x2, y2 = face.box
    center = ((x1 + x2) / 2, (y1 + y2) / 2)
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * margin)
    angle = 0.0
    if align:
        (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
        angle = math.degrees(math.atan2(ry - ly, rx - lx))  # positive = counter-clockwise in cv2
    side_px = max(1, round(side))
    matrix = cv2.getRotationMatrix2D(center, angle, side_px / side)
    matrix[:, 2] += (side_px / 2 - center[0], side_px / 2 - center[1])
    return matrix, side_px


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def crop_face(grey: np.ndarray, face: Face, settings: FaceSettings) -> np.ndarray:
    matrix, side = face_matrix(face, settings.margin, settings.align)
    # Boxes of tight crops reach past the frame: replicate the edge rather than add black bands.
    native = cv2.warpAffine(grey, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return resize_square(native, settings.size)


def whole_frame(grey: np.ndarray, size: int) -> np.ndarray:
    """The no-face fallback: the centred square of the frame, resized."""
    h, w = grey.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return resize_square(grey[top:top + side, left:left + side], size)


@dataclass
class SplitFaces:
    images: np.ndarray  # (N, S, S) uint8
    labels: np.ndarray
    ids: np.ndarray  # canonical dataset row ids
    found: np.ndarray  # bool (N,): a face was detected (else the whole frame was kept)
    confidence: np.ndarray  # (N,) MTCNN probability, nan where no face was found
    dropped: int  # images without a face left out (no_face: drop)


def image_name(dataset: Dataset, i: int) -> str:
    row = dataset.rows[i]
    return f"{dataset.folder}: image id {row['id']} ({row['origin']})"


def crop_dataset(dataset: Dataset, settings: FaceSettings, detector: FaceDetector) -> dict[str, SplitFaces]:
    for i, row in enumerate(dataset.rows):
        check_image_side(int(row["height"]), int(row["width"]), image_name(dataset, i))
    n, size = len(dataset), settings.size
    crops = np.zeros((n, size, size), dtype=np.uint8)
    confidence = np.full(n, np.nan)
    # facenet-pytorch batches only images of one size: group by size, keep dataset order in a group.
    by_size: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(dataset.rows):
        by_size[(row["height"], row["width"])].append(i)
    step = detector.runtime.batch_size
    batches = [ids[k:k + step] for ids in by_size.values() for k in range(0, len(ids), step)]
    loads = ((batch, [to_rgb(dataset.image(i), image_name(dataset, i)) for i in batch]) for batch in batches)
    with tqdm(total=n, unit="img", desc=f"faces ({detector.device})") as progress:
        for batch, rgbs, faces in detect_batches(detector, loads):
            for i, rgb, face in zip(batch, rgbs, faces):
                grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
                if face is None:
                    crops[i] = whole_frame(grey, size)
                else:
                    crops[i] = crop_face(grey, face, settings)
                    confidence[i] = face.confidence
            progress.update(len(batch))
    row_ids = np.array([int(r["id"]) for r in dataset.rows], dtype=np.int64)
    found = ~np.isnan(confidence)
    splits = {}
    for split in SPLITS:
        idx = dataset.indices(split)
        if settings.no_face == "drop":
            if len(idx) and not found[idx].any():
                raise FerpipeError(f"{settings.params_file}: faces.no_face is 'drop' but no face was found in any of the {len(idx)} "
                                   f"{split} images, which would leave the split empty; use 'keep'")
            kept = idx[found[idx]]
        else:
            kept = idx
        splits[split] = SplitFaces(crops[kept], dataset.labels[kept], row_ids[kept], found[kept],
                                   confidence[kept], dropped=len(idx) - len(kept))
    return splits


def save_faces(folder, splits: dict[str, SplitFaces], classes: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, faces in splits.items():
        save_split(folder / f"{split}.npz", faces.images, faces.labels, faces.ids, classes)
