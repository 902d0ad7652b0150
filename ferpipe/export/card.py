"""The exported model's folder (data/export/): the network and the SVM as ONNX, and the model card
that describes them and holds each file's sha256.

This module needs no deep-learning framework: `predict` reads and checks the card with it before it
opens the ONNX files with ONNX Runtime.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.sha256 import sha256_of
from ferpipe.core.textfile import read_text

CARD_FILE = "model_card.json"
NETWORK_FILE = "network.onnx"
SVM_FILE = "svm.onnx"
CARD_FORMAT = 1
# Tensor names inside the two ONNX files.
CROPS = "crops"  # network input: float32 (N, S, S, 1), grey pixel values 0..255
PROBABILITIES = "probabilities"  # network output: (N, K) softmax
FEATURES = "features"  # network output (N, D), and the SVM's input (float64)
SVM_LABEL = "label"  # SVM output: (N,) int64 class index
SVM_SCORES = "scores"  # SVM output: (N, K) float64, Platt probabilities or one-vs-rest decision values
CARD_FIELDS = ("format", "classes", "crop_size", "network", "svm", "faces")


def file_entry(path: Path, **fields: Any) -> dict[str, Any]:
    """The card's record of one exported file: its name in the folder, its sha256 and `fields`."""
    return {"file": path.name, "sha256": sha256_of(path), **fields}


def write_card(folder: Path, card: dict[str, Any]) -> None:
    (folder / CARD_FILE).write_text(json.dumps({"format": CARD_FORMAT, **card}, indent=2) + "\n")


def read_card(folder: str | Path) -> dict[str, Any]:
    """The model card of `folder`, checked: every field present, and each ONNX file present with the
    sha256 the card gives (a file changed since the export stage wrote it is an error)."""
    folder = Path(folder)
    path = folder / CARD_FILE
    require(path.is_file(), f"{folder}: no {CARD_FILE}; run the export stage (dvc repro export)")
    try:
        card = json.loads(read_text(path))
    except ValueError as exc:
        raise FerpipeError(f"{path}: not valid JSON ({exc})") from exc
    require(isinstance(card, dict), f"{path}: expected a JSON object")
    missing = [k for k in CARD_FIELDS if k not in card]
    require(not missing, f"{path}: missing field(s) {', '.join(missing)}; rerun the export stage")
    require(card["format"] == CARD_FORMAT, f"{path}: card format {card['format']!r}, this ferpipe reads {CARD_FORMAT}")
    for part in ("network", "svm"):
        entry = card[part]
        require(isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("sha256"), str),
                f"{path}: {part} must name its file and sha256")
        onnx = folder / Path(entry["file"]).name
        require(onnx.is_file(), f"{onnx}: missing ({CARD_FILE} lists it); rerun the export stage")
        require(sha256_of(onnx) == entry["sha256"],
                f"{onnx}: its sha256 is not the one in {CARD_FILE}: the file was changed after the export stage "
                "wrote it; rerun the export stage")
    return card
