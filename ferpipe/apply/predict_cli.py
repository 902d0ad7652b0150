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
import math
import sys
import time
from pathlib import Path

from ferpipe.probabilities.names import HEADS, PROBABILITY_NOTES
from ferpipe.core.cli import run_stage
from ferpipe.core.errors import FerpipeError, printable, require
from ferpipe.core.params import load_params

ENGINES = ("onnx", "keras")
DEFAULT_FPS = 5.0  # video frames sampled a second
MODEL, SVM = "data/model", "data/svm/model.skops"  # the keras engine's files where --model and --svm are not given


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ferpipe predict", description=__doc__.splitlines()[0].split(": ", 1)[1],
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


def _say(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)  # file names in it must not drive the terminal


def _keras_engine(args: argparse.Namespace, params: dict, runtime):
    """Today's path: the Keras model of --model (and the skops SVM of --svm) on the params' backend, faces
    found and cropped with the params' faces: settings."""
    from ferpipe.faces.detector import FaceDetector
    from ferpipe.faces.settings import FaceSettings
    from ferpipe.nn.backend import backend_param, select_backend
    from ferpipe.nn.saved import read_model_info

    settings = FaceSettings.from_params(params, args.params)
    backend = backend_param(params, args.params)
    read_model_info(args.model)  # a missing or broken model folder fails before the frameworks load
    detector = FaceDetector(settings, runtime)
    select_backend(backend)
    from ferpipe.apply.keras_classifier import KerasClassifier

    return detector, KerasClassifier(args.model, args.svm if args.head == "svm" else None), f"{backend} and the model in {args.model}"


def _onnx_engine(args: argparse.Namespace, runtime):
    """The export stage's files run by ONNX Runtime; faces are found and cropped with the card's faces: settings."""
    from ferpipe.apply.onnx_classifier import OnnxClassifier
    from ferpipe.export.card import CARD_FILE
    from ferpipe.faces.detector import FaceDetector
    from ferpipe.faces.settings import FaceSettings

    classifier = OnnxClassifier(args.export, args.head)
    settings = FaceSettings.from_params({"faces": classifier.card.faces}, str(Path(args.export) / CARD_FILE))
    return FaceDetector(settings, runtime), classifier, f"ONNX Runtime and the export in {args.export}"


def predict(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    # facenet-pytorch (torch, torchvision) before keras: TensorFlow loaded first makes torchvision crash.
    from ferpipe.apply.predict import Predictor, photo_files
    from ferpipe.apply.video import is_video
    from ferpipe.faces.settings import FaceRuntime

    files, missing = photo_files(args.inputs)
    if not files and not missing:
        raise FerpipeError(f"{', '.join(args.inputs)}: no files found")
    videos = [f for f in files if is_video(f)]
    require(not videos or len(videos) == len(files), "give photos and videos in separate runs of predict")
    require(math.isfinite(args.fps) and args.fps > 0, f"--fps must be a finite number > 0, got {args.fps:g}")
    keras_files = args.model is not None or args.svm is not None
    require(not (keras_files and args.engine == "onnx"), "--model and --svm are the keras engine's; the onnx engine "
            "reads the export in --export")
    engine = args.engine or ("onnx" if Path(args.export).exists() and not keras_files else "keras")
    args.model, args.svm = args.model or MODEL, args.svm or SVM
    if engine == "onnx" and not Path(args.params).is_file():  # the export runs outside the project too
        runtime = FaceRuntime(device="auto", workers=2, batch_size=1)
    else:
        params = load_params(args.params)
        runtime = FaceRuntime.from_params(params, args.params)
    if engine == "keras":
        detector, classifier, loaded = _keras_engine(args, params, runtime)
    else:
        detector, classifier, loaded = _onnx_engine(args, runtime)
    predictor = Predictor(detector, classifier, args.head)
    if args.verbose:
        _say(f"start-up: {time.perf_counter() - started:.2f} s (detector, {loaded})")
    model = args.export if engine == "onnx" else args.model
    if videos:
        return _predict_videos(args, predictor, videos, missing, str(model))
    return _predict_photos(args, predictor, files, missing, str(model))


def _out_folder(args: argparse.Namespace) -> None:
    """Made only once the model has loaded: a model that fails to load leaves no folder behind."""
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerpipeError(f"{args.out}: cannot create this --out folder ({exc.strerror or exc})") from exc


def _summary(results: list, what: str) -> int:
    failed = sum(r.error is not None for r in results)
    if len(results) > 1 or failed:
        _say(f"{len(results)} files: {sum(len(r.faces) for r in results)} faces in {len(results) - failed} {what}"
             + (f"; {failed} could not be used (reported above)" if failed else ""))
    return 1 if failed else 0


def _predict_photos(args: argparse.Namespace, predictor, files: list[Path], results: list, model: str) -> int:
    from ferpipe.apply.output import csv_header, csv_rows, csv_text, drawn_paths, json_report, save_drawn, text_report
    from ferpipe.apply.predict import is_folder_run, read_photos

    drawings = drawn_paths(args.out, files) if args.out else {}
    if args.out:
        _out_folder(args)
    classes = predictor.classifier.classes
    as_csv = not args.json and is_folder_run(args.inputs)
    if not args.json:
        print(csv_text([csv_header(classes)]) if as_csv else
              f"model {model}, head {args.head}: probabilities are {PROBABILITY_NOTES[predictor.probability_method]}",
              end="" if as_csv else "\n", flush=True)
    for result in results:
        _say(f"error: {result.path}: {result.error}")
    for result in predictor.run(read_photos(files), keep_images=args.out is not None):
        path = result.path
        results.append(result)
        if result.error:
            _say(f"error: {path}: {result.error}")
            continue
        if args.verbose:
            _say(f"{path}: " + ", ".join(f"{step} {s:.3f} s" for step, s in result.seconds.items()))
        if args.out:
            save_drawn(result, drawings[path])
            result.image = None  # not kept for the whole run
        if as_csv:
            print(csv_text(csv_rows(result)), end="", flush=True)
            if not result.faces:
                _say(f"{path}: no face found")
        elif not args.json:
            print(text_report(result), flush=True)
    if args.json:
        print(json_report(results, model, args.head, predictor.probability_method, classes))
    return _summary(results, "photos")


def _predict_videos(args: argparse.Namespace, predictor, videos: list[Path], results: list, model: str) -> int:
    """One CSV row per face and sampled frame (or, with --json, one JSON object per sampled frame, printed
    as one document at the end); a video OpenCV cannot open is reported and the others run."""
    from ferpipe.apply.output import csv_text, json_report, video_csv_header
    from ferpipe.apply.predict import PhotoResult

    outs = _drawn_videos(args.out, videos) if args.out else {}
    if args.out:
        _out_folder(args)
    classes = predictor.classifier.classes
    if not args.json:
        print(csv_text([video_csv_header(classes)]), end="", flush=True)
    for result in results:
        _say(f"error: {result.path}: {result.error}")
    frames: dict[Path, list[dict]] = {}
    for video in videos:
        result = PhotoResult(video)
        try:
            _predict_video(args, predictor, video, outs.get(video), result, frames.setdefault(video, []))
        except FerpipeError as exc:
            result.error = str(exc).removeprefix(f"{video}: ")
            _say(f"error: {video}: {result.error}")
        results.append(result)
    if args.json:
        print(json_report(results, model, args.head, predictor.probability_method, classes, frames))
    return _summary(results, "videos")


def _drawn_videos(out_dir: Path, videos: list[Path]) -> dict[Path, Path]:
    from ferpipe.apply.video import drawn_video_path

    if out_dir.exists() and not out_dir.is_dir():
        raise FerpipeError(f"{out_dir}: --out must be a folder, and this is a file")
    outs = {video: drawn_video_path(out_dir, video) for video in videos}
    require(len(set(outs.values())) == len(outs), "two videos of one name: give them in separate runs with --out")
    return outs


def _predict_video(args: argparse.Namespace, predictor, video: Path, out: Path | None, summary,
                   records: list[dict]) -> None:
    """Runs one video: each sampled frame printed as CSV rows, or (--json) added to `records`."""
    import contextlib

    import cv2

    from ferpipe.apply.output import csv_text, draw_faces, frame_record, video_csv_rows
    from ferpipe.apply.video import opened, sampled_frames, video_writer
    from ferpipe.core.outputs import new_file

    started, frames = time.perf_counter(), 0
    with opened(video) as capture, contextlib.ExitStack() as stack:
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        writer = stack.enter_context(video_writer(stack.enter_context(new_file(out)), args.fps, *size)) if out else None
        for result in predictor.run(sampled_frames(video, capture, args.fps), keep_images=out is not None):
            if args.json:  # a skipped frame too, with its error
                records.append(frame_record(result))
            if result.error:
                _say(f"warning: {video}: frame {result.frame} ({result.time:.2f} s): {result.error}")
                continue
            frames += 1
            summary.faces += result.faces
            if not args.json:
                print(csv_text(video_csv_rows(result)), end="", flush=True)
            if writer is not None:
                writer.write(cv2.cvtColor(draw_faces(result), cv2.COLOR_RGB2BGR))
    if args.verbose:
        seconds = time.perf_counter() - started
        _say(f"{video}: {frames} frames at {args.fps:g} a second of video, in {seconds:.1f} s "
             f"({frames / seconds:.1f} frames/s)")


def _main(argv: list[str] | None) -> None:
    code = predict(parse_args(argv))
    if code:
        sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
