"""What `predict` prints and writes: text for people, CSV (one row per face) for folders and videos,
JSON for programs (photos, and videos frame by frame), and photos with each face's box and label drawn."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ferpipe.probabilities.names import PROBABILITY_NOTES
from ferpipe.apply.predict import FaceResult, PhotoResult
from ferpipe.core.errors import FerpipeError, printable
from ferpipe.core.outputs import NAME_MAX, new_file

BOX_COLOUR = (255, 200, 0)  # RGB
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLOUR = (0, 0, 0)


def _box_text(box: tuple[float, ...]) -> str:
    x1, y1, x2, y2 = (round(v) for v in box)
    return f"({x1}, {y1})-({x2}, {y2})"


def text_report(result: PhotoResult) -> str:
    name = printable(str(result.path))
    if not result.faces:
        return f"{name}: no face found"
    lines = [f"{name}: {len(result.faces)} face{'s' if len(result.faces) > 1 else ''}"]
    for i, face in enumerate(result.faces, start=1):
        lines.append(f"  face {i}: box {_box_text(face.box)}, detection confidence {face.confidence:.3f}: "
                     f"{face.label} {face.probabilities[face.label]:.3f}")
        lines.append("    " + "  ".join(f"{c} {p:.3f}" for c, p in face.probabilities.items()))
    return "\n".join(lines)


def csv_header(classes: list[str]) -> list[str]:
    return ["photo", "face", "x1", "y1", "x2", "y2", "detection_confidence", "predicted", *(f"p_{c}" for c in classes)]


def face_record(face: FaceResult) -> dict:
    """One face as the CSV and JSON outputs write it (box to 0.1 px, confidence and probabilities to 1e-6)."""
    return {"box": [round(v, 1) for v in face.box], "detection_confidence": round(face.confidence, 6),
            "predicted": face.label, "probabilities": {c: round(p, 6) for c, p in face.probabilities.items()}}


def csv_rows(result: PhotoResult) -> list[list]:
    """One row per face; a photo without a face gives none."""
    return [[str(result.path), i, *rec["box"], rec["detection_confidence"], rec["predicted"], *rec["probabilities"].values()]
            for i, rec in enumerate(map(face_record, result.faces), start=1)]


def video_csv_header(classes: list[str]) -> list[str]:
    return ["video", "frame", "time_s", *csv_header(classes)[1:]]


def video_csv_rows(result: PhotoResult) -> list[list]:
    """One row per face of a video frame, with the frame's index and time stamp (s)."""
    return [[row[0], result.frame, result.time, *row[1:]] for row in csv_rows(result)]


def _cell(value):
    """A CSV cell that a spreadsheet shows as text: one that would start a formula (`=1+2.jpg`, `@SUM(...)`,
    `+`, `-`, a tab or carriage return first) gets a leading apostrophe; control characters are escaped."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return "'" + value if value[:1] in _FORMULA_STARTS else value


def csv_text(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def frame_record(result: PhotoResult) -> dict:
    """One sampled video frame as the JSON output writes it: its index, time stamp (s), error and faces."""
    return {"frame": result.frame, "time_s": result.time, "error": result.error,
            "faces": [face_record(f) for f in result.faces]}


def json_report(results: list[PhotoResult], model: str, head: str, probabilities: str, classes: list[str],
                frames: dict[Path, list[dict]] | None = None) -> str:
    """One JSON document: the model, head and classes, then each photo's faces; for videos (`frames`:
    each video's frame records, in order) each video's error and sampled frames."""
    if frames is None:
        items = {"photos": [{"photo": str(r.path), "error": r.error, "faces": [face_record(f) for f in r.faces]}
                            for r in results]}
    else:
        items = {"videos": [{"video": str(r.path), "error": r.error, "frames": frames.get(r.path, [])}
                            for r in results]}
    return json.dumps({"model": model, "head": head, "probabilities": probabilities,
                       "probabilities_note": PROBABILITY_NOTES[probabilities], "classes": classes, **items},
                      indent=2)


def draw_faces(result: PhotoResult) -> np.ndarray:
    """The photo with each face's box and `class probability` label."""
    image = result.image.copy()
    side = min(image.shape[:2])
    thickness = max(1, round(side / 250))
    scale = max(0.4, side / 900)
    for face in result.faces:
        x1, y1, x2, y2 = (round(v) for v in face.box)
        cv2.rectangle(image, (x1, y1), (x2, y2), BOX_COLOUR, thickness)
        label = f"{face.label} {face.probabilities[face.label]:.2f}"
        (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y1 - h - base - 2 * thickness if y1 - h - base - 2 * thickness >= 0 else y2  # above the box, else below
        cv2.rectangle(image, (x1, top), (x1 + w + 2 * thickness, top + h + base + 2 * thickness), BOX_COLOUR, -1)
        cv2.putText(image, label, (x1 + thickness, top + h + thickness), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOUR,
                    thickness, cv2.LINE_AA)
    return image


def fitting_name(stem: str, ending: str) -> str:
    """`stem + ending`, its stem cut (with a hash of the whole stem, so that names stay apart) where the name
    would be longer than a file name may be (NAME_MAX, 255 bytes): a long photo name still gets its drawing."""
    name = stem + ending
    if len(name.encode()) <= NAME_MAX:
        return name
    digest = "-" + hashlib.sha256(stem.encode(errors="surrogateescape")).hexdigest()[:12]
    room = NAME_MAX - len((digest + ending).encode())
    cut = stem.encode(errors="surrogateescape")[:room].decode(errors="ignore")
    return cut + digest + ending


def drawn_paths(out_dir: Path, photos: list[Path]) -> dict[Path, Path]:
    """Where each photo's drawing goes: `<out_dir>/<photo stem>_faces.png`, numbered where two photos
    share a stem. `out_dir` must be a folder (or not exist yet), and no drawing may land on an
    existing file, an input photo included: predict never overwrites a file (checked before any is written)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise FerpipeError(f"{out_dir}: --out must be a folder, and this is a file")
    paths: dict[Path, Path] = {}
    taken: set[Path] = set()
    for photo in photos:
        path, n = out_dir / fitting_name(photo.stem, "_faces.png"), 1
        while path in taken:
            n += 1
            path = out_dir / fitting_name(photo.stem, f"_faces_{n}.png")
        if path.exists() or path.is_symlink():
            raise FerpipeError(f"{path}: exists, and predict --out never overwrites a file; remove it or give "
                               "another --out folder")
        taken.add(path)
        paths[photo] = path
    return paths


def save_drawn(result: PhotoResult, path: Path) -> None:
    with new_file(path) as temp:
        try:
            Image.fromarray(draw_faces(result)).save(temp, format="PNG")
        except OSError as exc:
            raise FerpipeError(f"{path}: cannot write the drawing ({exc.strerror or exc})") from exc
