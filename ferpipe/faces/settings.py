"""The `faces:` params block (detector, small-input handling, crop and no-face policy), and the
speed-only `runtime.faces:` block (device, worker processes, batch size), which never changes a
crop and which no stage declares in dvc.yaml, so changing it reruns nothing."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

import cv2

from ferpipe.core.params import ParamBlock

MIN_OUTPUT_SIZE = 16
PAD_MODES = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101}


def _param_names(cls) -> list[str]:
    return [f.name for f in fields(cls) if f.name != "source"]


@dataclass(frozen=True)
class FaceSettings:
    min_face_size: int  # px, in the image MTCNN sees (after padding / upscaling)
    thresholds: tuple[float, float, float]  # P-, R-, O-net score thresholds
    pyramid_factor: float  # MTCNN's image-pyramid scale step
    small_side: int  # images whose shorter side is below this are padded / upscaled for detection
    pad: float  # border added on each side of a small image, as a fraction of its shorter side
    pad_mode: str  # replicate | constant | reflect
    upscale_to: int  # a small image's shorter side is upscaled to this many px (0: no upscaling)
    select: str  # largest | confidence: which face to keep when MTCNN finds several
    margin: float  # added on each side of the face box, as a fraction of the box side
    align: bool  # rotate so that the eyes are level (MTCNN's landmarks)
    no_face: str  # keep (the whole frame, for datasets of face crops) | drop
    size: int  # output side in px (grey, square)
    source: str = field(default="params.yaml", compare=False)  # the params file, named in messages

    @classmethod
    def from_params(cls, params: dict[str, Any], source: str = "params.yaml") -> FaceSettings:
        block = ParamBlock(params, "faces", _param_names(cls), source)
        thresholds = block.values["thresholds"]
        if not (isinstance(thresholds, list) and len(thresholds) == 3
                and all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1 for t in thresholds)):
            block.fail("thresholds", "a list of three numbers between 0 and 1 (P-, R-, O-net)")
        return cls(
            min_face_size=block.integer("min_face_size", 1),
            thresholds=tuple(float(t) for t in thresholds),
            pyramid_factor=block.real("pyramid_factor", 0.1, 0.95),
            small_side=block.integer("small_side", 0),
            pad=block.real("pad", 0.0, 1.0),
            pad_mode=block.choice("pad_mode", list(PAD_MODES)),
            upscale_to=block.integer("upscale_to", 0),
            select=block.choice("select", ["largest", "confidence"]),
            margin=block.real("margin", 0.0, 1.0),
            align=block.flag("align"),
            no_face=block.choice("no_face", ["keep", "drop"]),
            size=block.integer("size", MIN_OUTPUT_SIZE),
            source=source,
        )


@dataclass(frozen=True)
class FaceRuntime:
    """How the faces stage runs, not what it computes (`runtime.faces:`)."""
    device: str  # auto (cuda when torch sees one, else cpu) | cpu | cuda | cuda:N
    workers: int  # processes running MTCNN on the CPU, one thread each (one process on a GPU)
    batch_size: int  # images per MTCNN call
    source: str = field(default="params.yaml", compare=False)

    @classmethod
    def from_params(cls, params: dict[str, Any], source: str = "params.yaml") -> FaceRuntime:
        block = ParamBlock(params, "runtime.faces", _param_names(cls), source)
        device = block.values["device"]
        if not (isinstance(device, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", device)):
            block.fail("device", "auto, cpu, cuda or cuda:N")
        return cls(device=device, workers=block.integer("workers", 1), batch_size=block.integer("batch_size", 1),
                   source=source)
