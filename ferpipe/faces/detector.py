"""Face crops with facenet-pytorch's MTCNN: batched detection, one face per image (`detect`; every
face with `detect_all`, for `predict`), a margin, optional eye alignment, and a counted policy for
images where no face is found.

Tight face crops such as FER-2013's 48x48 frames leave MTCNN no context around the face, so images
whose shorter side is below `small_side` are upscaled and padded before detection, which finds more
faces in them (benchmarks/faces_speed.py measures any setting; the recorded rates are in
benchmarks/results/faces_small_input_fer2013.txt). Boxes and landmarks are mapped back to the
original image, and the crop is cut from the original.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections import deque
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN

from ferpipe.core.errors import FerpipeError
from ferpipe.data.images import check_image_side
from ferpipe.faces.settings import FaceRuntime, FaceSettings

# How OpenCV fills the border, for each faces.pad_mode (faces.settings.PAD_MODES).
BORDERS = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101}


def to_rgb(image: np.ndarray, name: str) -> np.ndarray:
    """uint8 grey (HxW or HxWx1), RGB or RGBA (alpha dropped) -> HxWx3 RGB; anything else is an error."""
    ok_shape = image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))
    if image.dtype != np.uint8 or not ok_shape:
        raise FerpipeError(f"{name}: expected a uint8 grey, RGB or RGBA image, got {image.dtype} {image.shape}")
    check_image_side(image.shape[0], image.shape[1], name)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, :3])


# Photos with a longer side above this are shown to MTCNN downscaled to it (boxes and landmarks are mapped
# back, the crop is cut from the full photo): an 8000x6000 photo took 13.5 s and 3.7 GB at full size.
# Faces smaller than faces.min_face_size x (longer side / MAX_DETECT_SIDE) px are then not found.
MAX_DETECT_SIDE = 1600


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
        if max(height, width) > MAX_DETECT_SIDE:
            scale = MAX_DETECT_SIDE / max(height, width)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            return cls(w, h, 0, w / width, h / height)
        if min(height, width) >= s.small_side:
            return cls(width, height, 0, 1.0, 1.0)
        scale = max(1.0, s.upscale_to / min(height, width))
        w, h = round(width * scale), round(height * scale)
        return cls(w, h, round(s.pad * min(w, h)), w / width, h / height)

    def show(self, rgb: np.ndarray, pad_mode: str) -> np.ndarray:
        if (self.width, self.height) != (rgb.shape[1], rgb.shape[0]):
            shrink = self.width < rgb.shape[1]
            rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        p = self.pad
        return cv2.copyMakeBorder(rgb, p, p, p, p, BORDERS[pad_mode]) if p else rgb

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) x, y points in the detector's image -> the original image."""
        return (points - self.pad) / np.array([self.scale_x, self.scale_y])


@dataclass
class Face:
    box: np.ndarray  # x1, y1, x2, y2 in original-image px
    confidence: float
    landmarks: np.ndarray  # (5, 2) x, y: left eye, right eye, nose, mouth left, mouth right


def resolve_device(runtime: FaceRuntime) -> str:
    name = runtime.device
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FerpipeError(f"{runtime.params_file}: runtime.faces.device is {name!r} but torch sees no CUDA device; "
                           "use auto or cpu")
    return name


class FaceDetector:
    def __init__(self, settings: FaceSettings, runtime: FaceRuntime):
        self.settings, self.runtime = settings, runtime
        self.device = resolve_device(runtime)
        self.mtcnn = MTCNN(min_face_size=settings.min_face_size, thresholds=list(settings.thresholds),
                           factor=settings.pyramid_factor, device=torch.device(self.device))

    def detect_all(self, images: list[np.ndarray]) -> list[list[Face]]:
        """Every face MTCNN finds in each RGB image (all of one size), most confident first."""
        view = DetectorView.for_size(images[0].shape[0], images[0].shape[1], self.settings)
        if min(view.width, view.height) + 2 * view.pad < self.settings.min_face_size:
            return [[] for _ in images]  # smaller than the smallest face: MTCNN's pyramid would be empty
        batch = np.stack([view.show(im, self.settings.pad_mode) for im in images])
        with one_cpu_thread() if self.device == "cpu" else contextlib.nullcontext():
            boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
        return [_faces(b, p, l, view) for b, p, l in zip(boxes, probs, points)]

    def detect(self, images: list[np.ndarray]) -> list[Face | None]:
        """The chosen face of each RGB image (all of one size, `faces.select`), or None where MTCNN finds none."""
        return [self._choose(faces) for faces in self.detect_all(images)]

    def _choose(self, faces: list[Face]) -> Face | None:
        if not faces:
            return None
        if self.settings.select == "largest":
            return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return max(faces, key=lambda f: f.confidence)


def _faces(boxes, probs, points, view: DetectorView) -> list[Face]:
    """MTCNN's detections of one image in original-image px, most confident first."""
    if boxes is None:
        return []
    # detect() hands back object arrays: make them float before any arithmetic.
    boxes, probs, points = (np.asarray(a, dtype=float) for a in (boxes, probs, points))
    faces = [Face(view.to_original(box.reshape(2, 2)).reshape(4), float(p), view.to_original(marks))
             for box, p, marks in zip(boxes, probs, points)]
    return sorted(faces, key=lambda f: -f.confidence)


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """MTCNN on small images is bound by its Python loops, not by convolutions, so a second torch thread
    in one process buys nothing (workers are processes), and results do not depend on the worker count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_worker_detector: FaceDetector | None = None


def _start_worker(settings: FaceSettings, runtime: FaceRuntime) -> None:
    global _worker_detector
    # Ctrl-C reaches the whole process group: the stage ends the pool and says `interrupted` once, so a
    # worker must not print a traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_detector = FaceDetector(settings, runtime)


def _detect_in_worker(images: list[np.ndarray]) -> list[Face | None]:
    return _worker_detector.detect(images)


def detect_batches(detector: FaceDetector, batches: Iterator[tuple[list[int], list[np.ndarray]]]
                   ) -> Iterator[tuple[list[int], list[np.ndarray], list[Face | None]]]:
    """(ids, RGB images) batches -> (ids, images, faces), in order. On the CPU the batches go to
    `workers` processes, at most two per worker in flight so that memory stays bounded."""
    workers = detector.runtime.workers if detector.device == "cpu" else 1
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
    with multiprocessing.get_context("spawn").Pool(workers, _start_worker, (detector.settings, detector.runtime)) as pool:
        for ids, images in batches:
            pending.append((ids, images, pool.apply_async(_detect_in_worker, (images,))))
            yield from finished(2 * workers)
        yield from finished(0)
