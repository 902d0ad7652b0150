"""Expressions of every face in a photo: MTCNN finds the faces (the pipeline's `faces:` settings),
each is cropped as the faces stage crops, and the trained network (softmax or SVM head) classifies it.

The detector and the model are built once (`Predictor`) and then run photo by photo; each photo's
time is split into reading, detection (MTCNN) and classification (the network, and the SVM).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ferpipe.core.errors import FerpipeError
from ferpipe.data.images import IMAGE_SUFFIXES, read_image
from ferpipe.faces.crop import crop_face
from ferpipe.faces.detector import Face, FaceDetector, to_rgb


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


def photo_files(inputs: list[str | Path]) -> tuple[list[Path], list[PhotoResult]]:
    """The files to run on: each input file as given, every visible file of each input folder
    (sorted; non-images are tried too, so that they are reported, not silently passed over).
    Inputs that do not exist come back as results with an error."""
    files, missing = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith("."))
        elif item.is_file():
            files.append(item)
        else:
            missing.append(PhotoResult(item, error="no such file or folder"))
    return list(dict.fromkeys(files)), missing  # a photo named twice is run (and drawn) once


def is_folder_run(inputs: list[str | Path]) -> bool:
    return any(Path(p).is_dir() for p in inputs)


class Classifier(Protocol):
    """What `Predictor` needs of a model: `Heads` (Keras) or `OnnxHeads` (the export)."""
    classes: list[str]
    crop_size: int

    def probability_method(self, head: str) -> str: ...

    def probabilities(self, crops: np.ndarray, head: str) -> np.ndarray: ...


class Predictor:
    def __init__(self, detector: FaceDetector, heads: Classifier, head: str):
        # Crops at the model's own size, whatever faces.size says now.
        self.settings = detector.settings.model_copy(update={"size": heads.crop_size})
        self.detector, self.heads, self.head = detector, heads, head
        self.probability_method = heads.probability_method(head)

    def run(self, path: Path, keep_image: bool = False) -> PhotoResult:
        result = PhotoResult(path)
        started = time.perf_counter()
        try:
            rgb = to_rgb(read_image(path, "RGB", upright=True), str(path))
        except FerpipeError as exc:
            unknown_kind = path.suffix.lower() not in IMAGE_SUFFIXES and exc.__cause__ is not None
            result.error = f"not an image ({exc.__cause__})" if unknown_kind else str(exc).removeprefix(f"{path}: ")
            return result
        result.seconds["read"] = time.perf_counter() - started
        started = time.perf_counter()
        faces = sorted(self.detector.detect_all([rgb])[0], key=lambda f: (f.box[0], f.box[1]))  # left to right
        result.seconds["detect"] = time.perf_counter() - started
        started = time.perf_counter()
        if faces:
            result.faces = self._classify(rgb, faces)
        result.seconds["classify"] = time.perf_counter() - started
        if keep_image:
            result.image = rgb
        return result

    def _classify(self, rgb: np.ndarray, faces: list[Face]) -> list[FaceResult]:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        crops = np.stack([crop_face(grey, face, self.settings) for face in faces])
        probabilities = self.heads.probabilities(crops, self.head)
        classes = self.heads.classes
        return [FaceResult(tuple(float(v) for v in face.box), face.confidence, classes[int(np.argmax(p))],
                           {c: float(v) for c, v in zip(classes, p)})
                for face, p in zip(faces, probabilities)]
