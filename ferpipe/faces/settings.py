"""The `faces:` params block (detector, small-input handling, crop and no-face policy), and the
speed-only `runtime.faces:` block (device, worker processes, batch size), which never changes a
crop and which no stage declares in dvc.yaml, so changing it reruns nothing."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ferpipe.core.settings import Expect, Settings, listed

MIN_OUTPUT_SIZE = 16
MAX_OUTPUT_SIZE = 1024
MAX_SIDE = 4096  # px of the image MTCNN sees; photos are shrunk to 1600 px for detection
PAD_MODES = ("replicate", "constant", "reflect")  # OpenCV border kinds (faces.detector.BORDERS)

Threshold = Annotated[float, Field(gt=0, lt=1)]


class FaceSettings(Settings):
    """How MTCNN finds the face and how it is cropped."""
    key = "faces"
    min_face_size: int = Field(ge=1, le=MAX_SIDE, description="px, in the image MTCNN sees (after upscaling/padding)")
    thresholds: Annotated[listed(Threshold, "a list of three numbers between 0 and 1 (P-, R-, O-net)"),
                          Field(min_length=3, max_length=3)] = Field(description="P-, R-, O-net score thresholds")
    pyramid_factor: float = Field(ge=0.1, le=0.95, description="MTCNN image-pyramid step")
    small_side: int = Field(ge=0, le=MAX_SIDE, description="images whose shorter side is below this are upscaled/padded for "
                                              "detection")
    pad: float = Field(ge=0, le=1, description="border added on each side of a small image, fraction of its shorter "
                                               "side (measured best on FER-2013)")
    pad_mode: Literal[PAD_MODES] = Field(description="how the border is filled")
    upscale_to: int = Field(ge=0, le=MAX_SIDE, description="shorter side of a small image upscaled to this (0: no upscaling)")
    select: Literal["largest", "confidence"] = Field(description="which face when several are found")
    margin: float = Field(ge=0, le=1, description="added on each side of the face box, fraction of the box side")
    align: bool = Field(description="rotate so the eyes are level (MTCNN landmarks)")
    no_face: Literal["keep", "drop"] = Field(description="keep (the whole frame, right for face-crop datasets) | drop; "
                                                         "counted either way")
    size: int = Field(ge=MIN_OUTPUT_SIZE, le=MAX_OUTPUT_SIZE, description="output side, px (grey, square)")


class FaceRuntime(Settings):
    """How the faces stage runs, not what it computes (speed only)."""
    key = "runtime.faces"
    device: Annotated[str, StringConstraints(pattern=r"^(auto|cpu|cuda(:\d+)?)$"), Expect("auto, cpu, cuda or cuda:N")
                      ] = Field(description="auto (cuda when torch sees one, else cpu) | cpu | cuda | cuda:N")
    workers: int = Field(ge=1, le=256, description="CPU processes running MTCNN, one torch thread each (one process on a GPU)")
    batch_size: int = Field(ge=1, le=4096, description="images per MTCNN call (images of one size per batch)")
