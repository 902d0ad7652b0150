"""The model `serve` runs: an export folder read and checked as `predict` reads it (the card, each ONNX
file against its sha256), MTCNN with the card's faces: settings, and `predict`'s own `Predictor`, so that
each face's JSON is the one `predict --json` prints for the same photo. No Keras, TensorFlow or
scikit-learn is loaded.

Uploads arrive as bytes held in memory and are decoded from memory: nothing is written to disk.
"""
from __future__ import annotations

import io
import subprocess
import time
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ferpipe.apply.onnx_classifier import OnnxClassifier
from ferpipe.apply.output import face_record
from ferpipe.apply.predict import Predictor
from ferpipe.core.errors import FerpipeError
from ferpipe.data.images import decode_image
from ferpipe.export.card import CARD_FILE
from ferpipe.faces.detector import FaceDetector, to_rgb
from ferpipe.faces.settings import FaceRuntime, FaceSettings
from ferpipe.probabilities.names import PROBABILITY_NOTES
from ferpipe.serve.limits import BadUpload, Limits

# `serve` without --export: the FER-2013 network shipped in the repository where it is there, else the pipeline's own.
DEFAULT_EXPORTS = ("models/fer2013-resnet50", "data/export")


def default_export(cwd: Path | None = None) -> Path:
    """The first of DEFAULT_EXPORTS that holds a model card (relative to `cwd`), else the last one: the
    error that follows then names the pipeline's folder and how to make it."""
    cwd = cwd or Path.cwd()
    for folder in DEFAULT_EXPORTS:
        if (cwd / folder / CARD_FILE).is_file():
            return Path(folder)
    return Path(DEFAULT_EXPORTS[-1])


def _git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def commit_of(folder: Path) -> dict | None:
    """The Git commit the served files come from: the last one that changed the folder (or, for a folder DVC
    tracks, its .dvc file or the dvc.lock beside it); None outside a Git repository."""
    folder = folder.resolve()
    root = _git(folder, "rev-parse", "--show-toplevel")
    if not root:
        return None
    for paths in ([str(folder)], [f"{folder}.dvc"], [str(Path(root) / "dvc.lock")]):
        line = _git(folder, "log", "-1", "--format=%H %cs", "--", *paths)
        if line:
            sha, date = line.split()
            changed = bool(_git(folder, "status", "--porcelain", "--", *paths))
            return {"hash": sha, "date": date, "from": str(Path(paths[0]).relative_to(root)),
                    "uncommitted_changes": changed}
    return None


class Engine:
    """The export of `folder`, loaded once; `predict` is safe to call from several threads at once."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        classifier = OnnxClassifier(self.folder, None)  # every head the export has (one network run for both)
        self.card = classifier.card
        settings = FaceSettings.from_params({"faces": self.card.faces}, str(self.folder / CARD_FILE))
        detector = FaceDetector(settings, FaceRuntime(device="auto", workers=1, batch_size=1))
        self.predictor = Predictor(detector, classifier, "softmax")
        self.heads: tuple[str, ...] = classifier.heads
        self.commit = commit_of(self.folder)

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def describe(self) -> str:
        """One line: which model this is."""
        acc = self.card.test_accuracy
        svm = f", svm {acc.svm:.3f}" if acc.svm is not None else " (a network-only model: no SVM head)"
        return (f"{self.folder} ({self.card.network.arch or 'network'} trained on {self.card.dataset.name}; test "
                f"accuracy softmax {acc.softmax:.3f}{svm})")

    def model_card(self, limits: Limits) -> dict:
        """What GET /api/model answers: the card as the export wrote it, with where it was served from."""
        return {"folder": str(self.folder), "description": self.describe(), "commit": self.commit,
                "heads": list(self.heads), "probability_notes": {h: PROBABILITY_NOTES[self.method(h)] for h in self.heads},
                "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels},
                "card": self.card.model_dump(mode="json")}

    def method(self, head: str) -> str:
        return self.predictor.classifier.probability_method(head)

    def decode(self, data: bytes, name: str, limits: Limits):
        """The upload as an RGB array, or BadUpload: 400 empty, 413 too many bytes or pixels (read from the
        header, before anything is decoded: a decompression bomb is refused here), 415 not an image,
        422 an image that cannot be used (truncated, corrupt, too small)."""
        if not data:
            raise BadUpload(400, f"{name}: empty upload: send the bytes of an image file")
        if len(data) > limits.max_bytes:
            raise BadUpload(413, f"{name}: {len(data):,} bytes, more than the limit of {limits.max_bytes:,}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:
                    width, height = img.size
        except Image.DecompressionBombError as exc:
            raise BadUpload(413, f"{name}: refused as a decompression bomb ({exc})") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise BadUpload(415, f"{name}: not an image this server reads (JPEG, PNG, WebP, BMP, GIF, TIFF)") from exc
        if width * height > limits.max_pixels:
            raise BadUpload(413, f"{name}: image is {width}x{height} px, more than the limit of "
                                 f"{limits.max_pixels:,} pixels; downscale it first")
        try:
            return to_rgb(decode_image(io.BytesIO(data), name, "RGB", upright=True, max_pixels=limits.max_pixels), name)
        except FerpipeError as exc:
            raise BadUpload(422, str(exc)) from exc

    def predict(self, data: bytes, name: str, heads: tuple[str, ...], limits: Limits) -> dict:
        """Every face of the uploaded image with, for each of `heads`, the faces as `predict --json` gives them."""
        started = time.perf_counter()
        image = self.decode(data, name, limits)
        decoded = time.perf_counter()
        faces = self.predictor.find_faces(image)
        detected = time.perf_counter()
        by_head = {head: {"probabilities": self.method(head), "probabilities_note": PROBABILITY_NOTES[self.method(head)],
                          "faces": [face_record(f) for f in self.predictor.classify_faces(image, faces, head)]}
                   for head in heads}
        done = time.perf_counter()
        return {"model": str(self.folder), "photo": name, "width": int(image.shape[1]), "height": int(image.shape[0]),
                "classes": self.classes, "heads": by_head,
                "seconds": {"decode": round(decoded - started, 4), "detect": round(detected - decoded, 4),
                            "classify": round(done - detected, 4)}}
