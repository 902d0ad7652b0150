"""Face crops with facenet-pytorch's MTCNN: batched detection, one face per image, a margin,
optional eye alignment, and a counted policy for images where no face is found.

Tight face crops such as FER-2013's 48x48 frames leave MTCNN no context around the face, so images
whose shorter side is below `small_side` are upscaled and padded before detection (on 3,000 real
FER-2013 images: 83.6% found as they are, 84.3% upscaled to 96 px, 89.9% padded by 10%, 90.6% both,
the default; benchmarks/faces_speed.py measures any setting). Boxes and landmarks are mapped back
to the original image, and the crop is cut from the original.
"""
from __future__ import annotations

import contextlib
import math
import multiprocessing
import re
from collections import defaultdict, deque
from dataclasses import dataclass, fields
from typing import Any, Iterator

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN
from tqdm import tqdm

from ferpipe.arrays import save_split
from ferpipe.dataset import SPLITS, Dataset
from ferpipe.errors import FerpipeError
from ferpipe.image_grid import Cell, save_image_grid
from ferpipe.param_block import ParamBlock

MIN_IMAGE_SIDE = 20
MIN_OUTPUT_SIZE = 16
PAD_MODES = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101}


@dataclass(frozen=True)
class FaceSettings:
    device: str  # auto (cuda when torch sees one, else cpu) | cpu | cuda | cuda:N
    workers: int  # processes running MTCNN on the CPU, one thread each (one process on a GPU)
    batch_size: int
    min_face_size: int  # px, in the image MTCNN sees (after padding / upscaling)
    thresholds: tuple[float, float, float]  # P-, R-, O-net score thresholds
    pyramid_factor: float  # MTCNN's image-pyramid scale step
    small_side: int  # images whose shorter side is below this are padded / upscaled for detection
    pad: float  # border added on each side of a small image, as a fraction of its shorter side
    pad_mode: str  # replicate | constant | reflect
    upscale_to: int  # a small image's shorter side is upscaled to this many px (0: no upscaling)
    select: str  # largest | confidence: which face to keep when MTCNN finds several
    margin: float  # added on each side of the face box, as a fraction of the box side
    align: bool  # rotate so that the eyes are level (MTCNN's landmarks)
    no_face: str  # keep (the whole frame, for datasets of face crops) | drop
    size: int  # output side in px (grey, square)

    @classmethod
    def from_params(cls, params: dict[str, Any], source: str = "params.yaml") -> FaceSettings:
        block = ParamBlock(params, "faces", [f.name for f in fields(cls)], source)
        device = block.values["device"]
        if not (isinstance(device, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", device)):
            block.fail("device", "auto, cpu, cuda or cuda:N")
        thresholds = block.values["thresholds"]
        if not (isinstance(thresholds, list) and len(thresholds) == 3
                and all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1 for t in thresholds)):
            block.fail("thresholds", "a list of three numbers between 0 and 1 (P-, R-, O-net)")
        return cls(
            device=device,
            workers=block.integer("workers", 1),
            batch_size=block.integer("batch_size", 1),
            min_face_size=block.integer("min_face_size", 1),
            thresholds=tuple(float(t) for t in thresholds),
            pyramid_factor=block.real("pyramid_factor", 0.1, 0.95),
            small_side=block.integer("small_side", 0),
            pad=block.real("pad", 0.0, 1.0),
            pad_mode=block.choice("pad_mode", list(PAD_MODES)),
            upscale_to=block.integer("upscale_to", 0),
            select=block.choice("select", ["largest", "confidence"]),
            margin=block.real("margin", 0.0, 1.0),
            align=block.flag("align"),
            no_face=block.choice("no_face", ["keep", "drop"]),
            size=block.integer("size", MIN_OUTPUT_SIZE),
        )


def check_image_side(height: int, width: int, name: str) -> None:
    if min(height, width) < MIN_IMAGE_SIDE:
        raise FerpipeError(f"{name}: image is {width}x{height} px, smaller than the {MIN_IMAGE_SIDE} px minimum")


def to_rgb(image: np.ndarray, name: str) -> np.ndarray:
    """uint8 grey (HxW or HxWx1), RGB or RGBA (alpha dropped) -> HxWx3 RGB; anything else is an error."""
    ok_shape = image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))
    if image.dtype != np.uint8 or not ok_shape:
        raise FerpipeError(f"{name}: expected a uint8 grey, RGB or RGBA image, got {image.dtype} {image.shape}")
    check_image_side(image.shape[0], image.shape[1], name)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, :3])


@dataclass(frozen=True)
class DetectorView:
    """How an image of one size is shown to MTCNN: resized to width x height, then `pad` px added a side."""
    width: int
    height: int
    pad: int
    scale_x: float
    scale_y: float

    @classmethod
    def for_size(cls, height: int, width: int, s: FaceSettings) -> DetectorView:
        if min(height, width) >= s.small_side:
            return cls(width, height, 0, 1.0, 1.0)
        scale = max(1.0, s.upscale_to / min(height, width))
        w, h = round(width * scale), round(height * scale)
        return cls(w, h, round(s.pad * min(w, h)), w / width, h / height)

    def show(self, rgb: np.ndarray, pad_mode: str) -> np.ndarray:
        if (self.width, self.height) != (rgb.shape[1], rgb.shape[0]):
            rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_CUBIC)
        p = self.pad
        return cv2.copyMakeBorder(rgb, p, p, p, p, PAD_MODES[pad_mode]) if p else rgb

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) x, y points in the detector's image -> the original image."""
        return (points - self.pad) / np.array([self.scale_x, self.scale_y])


@dataclass
class Face:
    box: np.ndarray  # x1, y1, x2, y2 in original-image px
    confidence: float
    landmarks: np.ndarray  # (5, 2) x, y: left eye, right eye, nose, mouth left, mouth right


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FerpipeError(f"faces.device is {name!r} but torch sees no CUDA device; use auto or cpu")
    return name


class FaceDetector:
    def __init__(self, settings: FaceSettings):
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.mtcnn = MTCNN(min_face_size=settings.min_face_size, thresholds=list(settings.thresholds),
                           factor=settings.pyramid_factor, device=torch.device(self.device))

    def detect(self, images: list[np.ndarray]) -> list[Face | None]:
        """The chosen face of each RGB image (all of one size), or None where MTCNN finds none."""
        view = DetectorView.for_size(images[0].shape[0], images[0].shape[1], self.settings)
        if min(view.width, view.height) + 2 * view.pad < self.settings.min_face_size:
            return [None] * len(images)  # smaller than the smallest face: MTCNN's pyramid would be empty
        batch = np.stack([view.show(im, self.settings.pad_mode) for im in images])
        with one_cpu_thread() if self.device == "cpu" else contextlib.nullcontext():
            boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
        return [self._choose(b, p, l, view) for b, p, l in zip(boxes, probs, points)]

    def _choose(self, boxes, probs, points, view: DetectorView) -> Face | None:
        if boxes is None:
            return None
        # detect() hands back object arrays: make them float before any arithmetic.
        boxes, probs, points = (np.asarray(a, dtype=float) for a in (boxes, probs, points))
        if self.settings.select == "largest":
            k = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
        else:
            k = int(np.argmax(probs))
        box = view.to_original(boxes[k].reshape(2, 2)).reshape(4)
        return Face(box, float(probs[k]), view.to_original(points[k]))


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """MTCNN on small images is bound by its Python loops, not by convolutions: on this 2-core CPU
    one thread is faster than two (measured), and results do not depend on the worker count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_worker_detector: FaceDetector | None = None


def _start_worker(settings: FaceSettings) -> None:
    global _worker_detector
    _worker_detector = FaceDetector(settings)


def _detect_in_worker(images: list[np.ndarray]) -> list[Face | None]:
    return _worker_detector.detect(images)


def detect_batches(detector: FaceDetector, batches: Iterator[tuple[list[int], list[np.ndarray]]]
                   ) -> Iterator[tuple[list[int], list[np.ndarray], list[Face | None]]]:
    """(ids, RGB images) batches -> (ids, images, faces), in order. On the CPU the batches go to
    `workers` processes, at most two per worker in flight so that memory stays bounded."""
    workers = detector.settings.workers if detector.device == "cpu" else 1
    if workers == 1:
        for ids, images in batches:
            yield ids, images, detector.detect(images)
        return
    pending: deque = deque()

    def finished(keep: int):
        while len(pending) > keep:
            ids, images, result = pending.popleft()
            yield ids, images, result.get()

    # spawn, not fork: a forked child can hang on the parent's torch thread pools.
    with multiprocessing.get_context("spawn").Pool(workers, _start_worker, (detector.settings,)) as pool:
        for ids, images in batches:
            pending.append((ids, images, pool.apply_async(_detect_in_worker, (images,))))
            yield from finished(2 * workers)
        yield from finished(0)


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
    return f"{dataset.folder}: image id {row['id']} ({row['source']})"


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
    step = settings.batch_size
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
                raise FerpipeError(f"faces.no_face is 'drop' but no face was found in any of the {len(idx)} "
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
