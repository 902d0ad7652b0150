"""`predict` on the files of its command line (ferpipe/commands/predict.py, whose help says what it prints):
the engine loaded (the export's ONNX files or the Keras model), then each photo or video run through
`Predictor` and its faces printed as text, CSV or JSON, drawn into --out where given.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from ferpipe.core.errors import FerpipeError, printable, require
from ferpipe.core.params import load_params
from ferpipe.probabilities.names import PROBABILITY_NOTES

ENGINES = ("onnx", "keras")
DEFAULT_FPS = 5.0  # video frames sampled a second
MODEL, SVM = "data/model", "data/svm/model.skops"  # the keras engine's files where --model and --svm are not given


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
