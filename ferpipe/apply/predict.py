"""Expressions of every face in a photo: MTCNN finds the faces (the pipeline's `faces:` settings),
each is cropped as the faces stage crops, and the trained network (softmax or SVM head) classifies it.

The detector and the model are built once (`Predictor`) and then run over photos or video frames in
batches of BATCH, results in input order: MTCNN searches a batch's images of one size in one call,
`runtime.faces.workers` batches at a time on the CPU (threads, one torch thread each: MTCNN's time
goes to torch kernels, which release the GIL), and the network classifies the batches' faces in one
more thread, in order, while MTCNN searches the next ones.
Each image's time is split into reading, detection (MTCNN) and classification (the network, and
the SVM); batched steps are shared out evenly over the batch's images.
"""
from __future__ import annotations

import contextlib
import itertools
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import cv2
import numpy as np

from ferpipe.core.errors import FerpipeError
from ferpipe.data.images import IMAGE_SUFFIXES, read_image
from ferpipe.faces.crop import crop_face
from ferpipe.faces.detector import Face, FaceDetector, one_cpu_thread, to_rgb


@dataclass
class FaceResult:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in photo px
    confidence: float  # MTCNN's detection probability
    label: str  # the most probable class
    probabilities: dict[str, float]  # every class, summing to 1


@dataclass
class PhotoResult:
    path: Path
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None  # why the file could not be used (then no faces)
    seconds: dict[str, float] = field(default_factory=dict)  # read, detect, classify
    image: np.ndarray | None = None  # the RGB photo, kept for drawing
    frame: int | None = None  # a video's frame: its index in the video
    time: float | None = None  # and its time stamp, s


def photo_files(inputs: list[str | Path]) -> tuple[list[Path], list[PhotoResult]]:
    """The files to run on: each input file as given, every visible file of each input folder
    (sorted; non-images and special files are tried too, so that they are reported, not silently passed over).
    Inputs that do not exist come back as results with an error."""
    files, missing = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if not p.is_dir() and not p.name.startswith("."))
        elif item.exists():  # a special file too: reading it reports it
            files.append(item)
        else:
            missing.append(PhotoResult(item, error="no such file or folder"))
    return list(dict.fromkeys(files)), missing  # a photo named twice is run (and drawn) once


def is_folder_run(inputs: list[str | Path]) -> bool:
    return any(Path(p).is_dir() for p in inputs)


class Classifier(Protocol):
    """What `Predictor` needs of a model: `KerasClassifier` (Keras) or `OnnxClassifier` (the export)."""
    classes: list[str]
    crop_size: int

    def probability_method(self, head: str) -> str: ...

    def probabilities(self, crops: np.ndarray, head: str) -> np.ndarray: ...


BATCH = 8  # photos or frames per MTCNN call (one per image size) and per network call


def read_photos(paths: Iterable[Path]) -> Iterator[PhotoResult]:
    """Each photo decoded to RGB (`image`), or with the reason it cannot be used (`error`)."""
    for path in paths:
        result = PhotoResult(path)
        started = time.perf_counter()
        try:
            result.image = to_rgb(read_image(path, "RGB", upright=True), str(path))
        except FerpipeError as exc:
            unknown_kind = path.suffix.lower() not in IMAGE_SUFFIXES and exc.__cause__ is not None
            result.error = f"not an image ({exc.__cause__})" if unknown_kind else str(exc).removeprefix(f"{path}: ")
        result.seconds["read"] = time.perf_counter() - started
        yield result


def _left_to_right(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (f.box[0], f.box[1]))


def _face_results(faces: list[Face], probabilities: Iterator[np.ndarray], classes: list[str]) -> list[FaceResult]:
    """Each face with its row of `probabilities` (taken from the iterator in order) and its most probable class."""
    return [FaceResult(tuple(float(v) for v in face.box), face.confidence, classes[int(np.argmax(p))],
                       {c: float(v) for c, v in zip(classes, p)}) for face, p in zip(faces, probabilities)]


class Predictor:
    def __init__(self, detector: FaceDetector, classifier: Classifier, head: str):
        # Crops at the model's own size, whatever faces.size says now.
        self.settings = detector.settings.model_copy(update={"size": classifier.crop_size})
        self.detector, self.classifier, self.head = detector, classifier, head
        self.probability_method = classifier.probability_method(head)

    def find_faces(self, image: np.ndarray) -> list[Face]:
        """Every face of one RGB image, left to right, as `run` finds them (for a caller with its own threads)."""
        return _left_to_right(self.detector.detect_all([image])[0])

    def classify_faces(self, image: np.ndarray, faces: list[Face], head: str) -> list[FaceResult]:
        """`faces` (of `find_faces`) of one RGB image classified by `head`, as `run` classifies them; the
        classifier must have `head` loaded."""
        if not faces:
            return []
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        crops = np.stack([crop_face(grey, face, self.settings) for face in faces])
        return _face_results(faces, iter(self.classifier.probabilities(crops, head)), self.classifier.classes)

    def run(self, images: Iterable[PhotoResult], keep_images: bool = False) -> Iterator[PhotoResult]:
        """`images` (from `read_photos` or a video's frames) with their faces found and classified, in
        input order; each image is dropped once classified unless `keep_images` (for drawing)."""
        images = iter(images)
        finders = self.detector.runtime.workers if self.detector.device == "cpu" else 1
        # One torch thread for the whole run: each finder thread would otherwise set and restore it under the others.
        with (one_cpu_thread() if finders > 1 else contextlib.nullcontext(),
              ThreadPoolExecutor(finders) as finding, ThreadPoolExecutor(1) as classifying):
            in_flight: deque = deque()
            for batch in iter(lambda: list(itertools.islice(images, BATCH)), []):
                found = finding.submit(self._detect, batch)
                in_flight.append(classifying.submit(self._classify_found, batch, found, keep_images))
                if len(in_flight) > finders:
                    yield from in_flight.popleft().result()
            while in_flight:
                yield from in_flight.popleft().result()

    def _detect(self, batch: list[PhotoResult]) -> list[list[Face]]:
        """Every face of each usable image, left to right; one MTCNN call per image size."""
        found: list[list[Face]] = [[] for _ in batch]
        usable = [i for i, r in enumerate(batch) if r.error is None]
        for _, group in itertools.groupby(sorted(usable, key=lambda i: batch[i].image.shape), lambda i: batch[i].image.shape):
            group = list(group)
            started = time.perf_counter()
            for i, faces in zip(group, self.detector.detect_all([batch[i].image for i in group])):
                found[i] = _left_to_right(faces)
            for i in group:
                batch[i].seconds["detect"] = (time.perf_counter() - started) / len(group)
        return found

    def _classify_found(self, batch: list[PhotoResult], found: Future, keep_images: bool) -> list[PhotoResult]:
        return self._classify(batch, found.result(), keep_images)

    def _classify(self, batch: list[PhotoResult], found: list[list[Face]], keep_images: bool) -> list[PhotoResult]:
        started = time.perf_counter()
        crops = []
        for result, faces in zip(batch, found):
            if faces:
                grey = cv2.cvtColor(result.image, cv2.COLOR_RGB2GRAY)
                crops += [crop_face(grey, face, self.settings) for face in faces]
        probabilities = iter(self.classifier.probabilities(np.stack(crops), self.head) if crops else [])
        for result, faces in zip(batch, found):
            result.faces += _face_results(faces, probabilities, self.classifier.classes)
        for result in batch:
            if result.error is None:
                result.seconds["classify"] = (time.perf_counter() - started) / len(batch)
            if not keep_images:
                result.image = None
        return batch
