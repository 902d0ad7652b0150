"""The exported model's folder (data/export/): the network and the SVM as ONNX, and the model card
that describes them and holds each file's sha256.

This module needs no deep-learning framework: `predict` reads and checks the card with it before it
opens the ONNX files with ONNX Runtime.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import NonNegativeInt, model_validator

from ferpipe.core.errors import require
from ferpipe.core.records import ClassNames, FileName, Name, PositiveInt, Record, Sha256, read_record, validated
from ferpipe.core.sha256 import sha256_of
from ferpipe.core.textfile import read_bytes
from ferpipe.probabilities.names import SVM_DECISION_SOFTMAX, SVM_PLATT

CARD_FILE = "model_card.json"
NETWORK_FILE = "network.onnx"
SVM_FILE = "svm.onnx"
CARD_FORMAT = 1
MODEL_LIMIT = 2 << 30  # ONNX's protobuf cannot hold more in one file
# Tensor names inside the two ONNX files.
CROPS = "crops"  # network input: float32 (N, S, S, 1), grey pixel values 0..255
PROBABILITIES = "probabilities"  # network output: (N, K) softmax
FEATURES = "features"  # network output (N, D), and the SVM's input (float64)
SVM_LABEL = "label"  # SVM output: (N,) int64 class index
SVM_SCORES = "scores"  # SVM output: (N, K) float64, Platt probabilities or one-vs-rest decision values
REMEDY = "rerun the export stage"


class NetworkOutputs(Record):
    probabilities: PositiveInt
    features: PositiveInt


class NetworkEntry(Record):
    file: FileName
    sha256: Sha256
    input: Literal["crops"]
    outputs: NetworkOutputs
    arch: Name | None
    exported_on: Name
    trained_precision: Name | None = None  # its training's dtype policy; the ONNX file computes in float32


class SvmOutputs(Record):
    label: Literal[1]
    scores: PositiveInt


class SvmEntry(Record):
    file: FileName
    sha256: Sha256
    input: Literal["features"]
    outputs: SvmOutputs
    probabilities: Literal[SVM_PLATT, SVM_DECISION_SOFTMAX]


class DatasetEntry(Record):
    name: Name
    content_hash: Name


class TestAccuracy(Record):
    softmax: float
    svm: float | None  # None: a network-only (shipped) model


class Parity(Record):
    crops: PositiveInt
    max_probability_difference: float
    probability_tolerance: float
    argmax_agrees: bool
    svm_labels_agree: bool
    max_svm_probability_difference: float | None  # over the crops not near a one-vs-one vote tie; None: no such crop
    max_feature_difference: float
    svm_crops_near_a_vote_tie: NonNegativeInt = 0  # checked by whole votes instead (ferpipe.export.run.VOTE_MARGIN)
    svm_crops_a_vote_apart: NonNegativeInt = 0  # of those, where ONNX's float32 SVM cast a vote the other way


class Shipped(Record):
    """How a network-only copy of an export (ferpipe.export.ship) was made, and how it compares."""
    weights: Literal["int8 per output channel"]
    source_network_sha256: Sha256  # the export's float32 network.onnx it was made from
    source_test_accuracy: float  # of that network, on the same test crops
    test_images: PositiveInt
    max_probability_difference: float  # between the two networks, over those crops
    same_class_share: float  # of those crops on which both name the same class
    commit: Name  # of the code that trained and exported the network
    recipe: str  # the training settings, as given to the pipeline


class ModelCard(Record):
    """model_card.json; `faces` is checked as the faces: params block where it is used. A shipped
    network-only model (models/<name>/) has no `svm` and no export `parity`, and says how it was made."""
    format: Literal[CARD_FORMAT]
    classes: ClassNames
    crop_size: PositiveInt
    preprocessing: str
    network: NetworkEntry
    svm: SvmEntry | None
    faces: dict[str, Any]
    dataset: DatasetEntry
    test_accuracy: TestAccuracy
    parity: Parity | None
    shipped: Shipped | None = None

    @model_validator(mode="after")
    def _one_output_per_class(self) -> ModelCard:
        outputs = (self.network.outputs.probabilities, self.svm.outputs.scores if self.svm else len(self.classes))
        if outputs != (len(self.classes),) * 2:
            raise ValueError(f"lists {len(self.classes)} classes, but network.outputs.probabilities is "
                             f"{outputs[0]} and svm.outputs.scores {outputs[1]}")
        if (self.svm is None) != (self.test_accuracy.svm is None):
            raise ValueError("has an svm entry without test_accuracy.svm, or the other way round")
        if self.svm is None and self.shipped is None:
            raise ValueError("has no svm entry: only a shipped network-only model (with `shipped`) may lack it")
        return self


def file_entry(path: Path, **fields: Any) -> dict[str, Any]:
    """The card's record of one exported file: its name in the folder, its sha256 and `fields`."""
    return {"file": path.name, "sha256": sha256_of(path), **fields}


def write_card(folder: Path, card: dict[str, Any]) -> None:
    checked = validated(ModelCard, {"format": CARD_FORMAT, **card}, str(folder / CARD_FILE))
    (folder / CARD_FILE).write_text(json.dumps(checked.model_dump(mode="json"), indent=2) + "\n")


def checked_bytes(folder: Path, entry: NetworkEntry | SvmEntry) -> bytes:
    """The bytes of the file `entry` names, read once, not through a link, and checked against the card's
    sha256: the bytes returned are the ones that were checked, so they are what is loaded."""
    path = folder / entry.file
    require(os.path.lexists(path), f"{path}: missing ({CARD_FILE} lists it); {REMEDY}")
    raw = read_bytes(path, MODEL_LIMIT, "a model file of the export's own folder", follow_links=False)
    require(hashlib.sha256(raw).hexdigest() == entry.sha256,
            f"{path}: its sha256 is not the one in {CARD_FILE}: the file was changed after the export stage "
            f"wrote it; {REMEDY}")
    return raw


def read_card(folder: str | Path) -> tuple[ModelCard, dict[str, bytes]]:
    """The model card of `folder`, checked against its schema, and the bytes of its ONNX files (the
    network, and the SVM where the card lists one), each checked against the card's sha256 (a file
    changed since the export stage wrote it is an error)."""
    folder = Path(folder)
    path = folder / CARD_FILE
    require(path.is_file(), f"{folder}: no {CARD_FILE}; run the export stage (dvc repro export)")
    card = read_record(path, ModelCard, REMEDY)
    files = {"network": checked_bytes(folder, card.network)}
    if card.svm is not None:
        files["svm"] = checked_bytes(folder, card.svm)
    return card, files
