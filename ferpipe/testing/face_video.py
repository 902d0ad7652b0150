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
