"""Videos for `predict`: frames sampled at a steady rate (`--fps`) with their time stamps, and the
video written back with each face's box and label drawn (`--out`).

OpenCV reads and writes them (any container and codec its FFmpeg build knows). A video OpenCV
cannot open is an error; a frame it cannot decode comes back with an `error` and is skipped.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Iterator

import cv2

from ferpipe.apply.predict import PhotoResult
from ferpipe.core.errors import require
from ferpipe.core.textfile import require_regular

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv"}
MAX_BAD_FRAMES = 25  # undecodable frames in a row after which the rest of the video is given up
OUT_SUFFIX, OUT_CODEC = ".mp4", "mp4v"


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


@contextlib.contextmanager
def opened(path: Path) -> Iterator[cv2.VideoCapture]:
    require_regular(path, "a video")  # OpenCV would wait on a FIFO for ever
    capture = cv2.VideoCapture(str(path))
    try:
        require(capture.isOpened() and capture.get(cv2.CAP_PROP_FPS) > 0,
                f"{path}: OpenCV cannot open this video (not a video, or a codec its FFmpeg lacks)")
        yield capture
    finally:
        capture.release()


def _stamp(capture: cv2.VideoCapture, index: int, source_fps: float, last: tuple[int, float] | None) -> float:
    """The time (s) of the frame just grabbed: the container's own (a variable-frame-rate video's frames do
    not come at its nominal rate), else, where the backend gives none, its index over the nominal rate."""
    position = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
    if not math.isfinite(position) or position < 0 or (index > 0 and position == 0) or (
            last is not None and position <= last[1]):
        return index / source_fps
    return position


def sampled_frames(path: Path, capture: cv2.VideoCapture, fps: float) -> Iterator[PhotoResult]:
    """The frames at 0, 1/fps, 2/fps... s (the first frame at or after each time, by its own time stamp), as
    RGB images with their index and time stamp. A due frame that cannot be decoded comes back with an
    `error` instead (once a later frame decodes: undecodable frames at the end of a video are reported as
    one range, where the frames came at the nominal rate: otherwise the container's frame count is its
    estimate from that rate, and the end of the frames the end of the video)."""
    source_fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    index, due, bad, failed = 0, 0.0, 0, []
    last: tuple[int, float] | None = None  # index and time of the last frame grabbed
    steady = True  # every frame so far at its nominal time
    while True:  # to the end of the frames: a variable rate's frame count is an estimate, short or long
        grabbed = capture.grab()
        if grabbed:
            stamp = _stamp(capture, index, source_fps, last)
            steady = steady and abs(stamp - index / source_fps) <= 0.5 / source_fps
            last = (index, stamp)
        else:
            stamp = (last[1] + (index - last[0]) / source_fps) if last else index / source_fps
        stamp = round(stamp, 6)
        bad = 0 if grabbed else bad + 1
        if not grabbed and (count <= 0 or index >= count or bad > MAX_BAD_FRAMES or not steady):
            break
        if grabbed:
            yield from failed
            failed = []
        if stamp + 1e-9 >= due:
            due = (int(stamp * fps + 1e-9) + 1) / fps
            ok, bgr = capture.retrieve() if grabbed else (False, None)
            frame = PhotoResult(path, frame=index, time=stamp, error=None if ok else "cannot be decoded; skipped")
            if ok:
                frame.image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if grabbed:
                yield frame
            else:
                failed.append(frame)
        index += 1
    # Only frames seen at the nominal rate make its frame count the container's own rather than its estimate.
    if count > 0 and steady and last is not None and last[0] >= 1 and (index < count or failed):
        first = failed[0].frame if failed else index - bad + 1
        yield PhotoResult(path, frame=first, time=round(first / source_fps, 6),
                          error=f"frames {first} to {count - 1} of {count} cannot be decoded; skipped")


def drawn_video_path(out_dir: Path, video: Path) -> Path:
    path = out_dir / f"{video.stem}_faces{OUT_SUFFIX}"
    require(not (path.exists() or path.is_symlink()),
            f"{path}: exists, and predict --out never overwrites a file; remove it or give another --out folder")
    return path


@contextlib.contextmanager
def video_writer(path: Path, fps: float, width: int, height: int) -> Iterator[cv2.VideoWriter]:
    """A video of `fps` frames a second at `path` (BGR frames), closed on leaving; removed when the run fails."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*OUT_CODEC), fps, (width, height))
    try:
        require(writer.isOpened(), f"{path}: OpenCV cannot write a {OUT_CODEC} video here")
        yield writer
    except BaseException:
        writer.release()
        path.unlink(missing_ok=True)
        raise
    writer.release()
