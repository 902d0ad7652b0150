"""A short video of a face moving across a plain background (scikit-image's astronaut, scaled), for the
video tests of `predict` and its benchmark; and a variable-frame-rate one, whose frames come when its
time stamps say, not at a steady rate (written as Matroska by hand: OpenCV writes steady rates only)."""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np


def write_face_video(path: Path, frames: int, fps: float, width: int = 320, height: int = 240,
                     codec: str = "mp4v") -> Path:
    """`frames` frames at `fps`: the face (a third of the height) moves to the right by 2% of the width a frame."""
    from skimage.data import astronaut

    face_h = height // 2
    face = cv2.resize(astronaut()[0:250, 120:320], (face_h * 4 // 5, face_h), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    for i in range(frames):
        frame = np.full((height, width, 3), 90, np.uint8)
        left = round(i * 0.02 * width) % (width - face.shape[1])
        top = (height - face_h) // 2
        frame[top:top + face_h, left:left + face.shape[1]] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _size(n: int) -> bytes:
    """An EBML element's data size as a variable-length integer."""
    length = next(k for k in range(1, 9) if n < (1 << (7 * k)) - 1)
    return ((1 << (7 * length)) | n).to_bytes(length, "big")


def _element(id_hex: str, payload: bytes) -> bytes:
    return bytes.fromhex(id_hex) + _size(len(payload)) + payload


def _uint(id_hex: str, value: int) -> bytes:
    return _element(id_hex, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def write_vfr_video(path: Path, times_ms: list[int], duration_ms: int, width: int = 160, height: int = 120) -> Path:
    """A Matroska video of MJPEG frames shown at `times_ms` (at most 32,767 ms: one cluster), `duration_ms` long:
    frame i is a flat grey of 40 + 20 i, so that a reader's frame can be told apart."""
    header = _element("1A45DFA3", _uint("4286", 1) + _uint("42F7", 1) + _uint("42F2", 4) + _uint("42F3", 8)
                      + _element("4282", b"matroska") + _uint("4287", 2) + _uint("4285", 2))
    info = _element("1549A966", _uint("2AD7B1", 1_000_000) + _element("4489", struct.pack(">d", duration_ms))
                    + _element("4D80", b"ferpipe") + _element("5741", b"ferpipe"))
    track = _element("AE", _uint("D7", 1) + _uint("73C5", 1) + _uint("83", 1) + _element("86", b"V_MJPEG")
                     + _element("E0", _uint("B0", width) + _uint("BA", height)))
    blocks = b""
    for i, at in enumerate(times_ms):
        ok, jpeg = cv2.imencode(".jpg", np.full((height, width, 3), 40 + 20 * i, np.uint8))
        blocks += _element("A3", b"\x81" + struct.pack(">h", at) + b"\x80" + jpeg.tobytes())  # track 1, keyframe
    segment = _element("18538067", info + _element("1654AE6B", track) + _element("1F43B675", _uint("E7", 0) + blocks))
    path.write_bytes(header + segment)
    return path


def demo_faces_photo(path: Path, classes: tuple[int, ...] = (0, 1, 2, 3), size: int = 160) -> Path:
    """A photo of demo faces side by side (one per class index of `classes`, one subject), `size` px each."""
    from ferpipe.data.sources.demo_faces import demo_faces_at

    faces = demo_faces_at(7, 1, size, classes)
    row = np.concatenate([faces[i][0] for i in classes], axis=1)
    cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
    return path


def write_demo_face_y4m(path: Path, frames: int = 30, width: int = 640, height: int = 480, face_class: int = 3,
                        fps: int = 15) -> Path:
    """A YUV4MPEG2 (.y4m) video, what Chromium's fake camera plays (`--use-file-for-fake-video-capture`):
    a demo face (of class index `face_class`, half the height) drifting right on grey, `frames` frames at `fps`."""
    from ferpipe.data.sources.demo_faces import demo_faces_at

    side = height // 2
    face = demo_faces_at(7, 1, side, [face_class])[face_class][0]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            frame = np.full((height, width, 3), 90, np.uint8)
            left = (width - side) // 4 + round(i * (width - side) / (2 * max(1, frames)))
            top = (height - side) // 2
            frame[top:top + side, left:left + side] = face
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
