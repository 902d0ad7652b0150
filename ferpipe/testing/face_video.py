"""A short video of a face moving across a plain background (scikit-image's astronaut, scaled), for the
video tests of `predict` and its benchmark."""
from __future__ import annotations

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
