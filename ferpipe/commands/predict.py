"""`python -m ferpipe predict PHOTO_OR_FOLDER_OR_VIDEO...`: the expression of every face in photos and videos, with the trained model.

Each face's box, detection confidence, predicted class and the probabilities of all classes:
as text (photos), as CSV with one row per face (when an input is a folder) or as JSON (`--json`, one
document; for videos one object per sampled frame);
`--out DIR` writes each photo with its boxes and labels drawn, as DIR/<photo name>_faces.png; it never
overwrites a file: when one of these names exists (an input photo too), predict stops before
writing anything. A file that cannot be used (not an image, truncated) is reported on stderr and
the others are still processed; the exit status is then 1. A photo without a face gives an empty
result (exit 0).

Two engines, each loaded once. onnx (the default where data/export/ exists and neither --model nor
--svm is given; `--export`): the export
stage's network.onnx and svm.onnx run by ONNX Runtime, faces found and cropped with the faces:
settings of its model card; no Keras, TensorFlow or scikit-learn is loaded, and a missing or changed
file (checked against the card's sha256) is an error. keras (`--engine keras`): the Keras model in
data/model/ (`--model`) on the params' backend and the skops SVM (`--svm`), faces found and cropped
with the `faces:` settings of params.yaml (`--params`).

Videos (anything OpenCV reads: .mp4, .mov, .avi, .mkv, .webm...): frames are sampled at --fps a
second of video (the first frame at or after 0, 1/fps, 2/fps... s) and printed as CSV, one row per
face and frame with the frame's index and time stamp (`video, frame, time_s, face, x1, ...`), or with
--json as one document whose `videos` list each video's sampled frames (frame, time_s, error, faces);
`--out DIR` writes DIR/<video name>_faces.mp4, the sampled frames with boxes and labels, at --fps
frames a second. A video OpenCV cannot open is reported like an unusable photo; a frame it cannot
decode is reported as a warning and skipped. Photos and videos go in separate runs.

Large photos: faces are detected on a copy whose longer side is at most 1600 px (boxes are mapped
back and faces cropped from the full photo), so faces smaller than about faces.min_face_size x
(longer side / 1600) px are not found; photos above 100 megapixels are refused.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ferpipe.apply.predict_files import DEFAULT_FPS, ENGINES, MODEL, SVM, predict
from ferpipe.core.cli import run_stage
from ferpipe.probabilities.names import HEADS
from ferpipe.commands import help_description


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ferpipe predict", description=help_description(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("inputs", nargs="+", metavar="PHOTO_OR_FOLDER", help="photo files, or folders of them, or videos")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS,
                        help=f"videos: frames sampled a second (default: {DEFAULT_FPS:g})")
    parser.add_argument("--engine", choices=ENGINES, help="onnx: the export stage's files in --export, run by ONNX "
                        "Runtime without Keras (the default where that folder exists); keras: the Keras model of --model")
    parser.add_argument("--export", default="data/export", help="the export stage's folder (default: data/export)")
    parser.add_argument("--model", help=f"trained model folder of --engine keras, which it implies (default: {MODEL})")
    parser.add_argument("--head", choices=HEADS, default="softmax",
                        help="softmax: the network's own head (default); svm: the SVM on its features")
    parser.add_argument("--svm", help=f"the SVM of --head svm with --engine keras, which it implies (default: {SVM})")
    parser.add_argument("--params", default="params.yaml",
                        help="params file with the runtime.faces: settings, and for --engine keras the faces: settings and "
                             "backend (default: params.yaml; the onnx engine runs without one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document (videos: one object per "
                        "sampled frame, with its index and time stamp)")
    parser.add_argument("--out", type=Path, help="folder for the photos (<name>_faces.png) or videos (<name>_faces.mp4, "
                                                 "the sampled frames at --fps) with boxes and labels drawn; an existing "
                                                 "file there is never overwritten")
    parser.add_argument("--verbose", action="store_true", help="print start-up and per-photo times on stderr")
    return parser.parse_args(argv)


def _main(argv: list[str] | None) -> None:
    code = predict(parse_args(argv))
    if code:
        sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
