"""The `export` stage's work: the network and the SVM as ONNX, checked against the models they come
from on the test crops, and the model card.

Parity, checked here on every export (the stage fails otherwise) and written into the card: ONNX
Runtime's probabilities within PROBABILITY_TOLERANCE of the Keras model's, the same most probable
class for every crop (the Keras model in float32, as exported: see `in_float32` for a network trained
under a mixed bf16 or float16 policy); on every crop's Keras features, the ONNX SVM's label equal to
the skops SVM's, and the SVM head's probabilities as `predict` reads them from the ONNX scores within
the same tolerance of those it gives with the skops model, with the same most probable class. One exception,
counted in the card: ONNX-ML's SVMClassifier holds the support vectors and coefficients as float32,
which moves a one-vs-one decision value by about 1e-5 on a large SVM (23,528 support vectors on
FER-2013). Where one of a crop's values lies within VOTE_MARGIN of 0, that vote can go the other way
and the crop's one-vs-rest values move by whole votes; for such crops (when the SVM head's
probabilities are the softmax of those values) the ONNX values must differ from the skops SVM's by
whole votes only, within SCORE_TOLERANCE, instead of agreeing.

`run_export` imports keras: call it after `ferpipe.nn.backend.select_backend`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ferpipe.core.errors import require
from ferpipe.core.records import RECORD_LIMIT, parse_json
from ferpipe.core.textfile import read_text
from ferpipe.data.arrays import load_split
from ferpipe.export.card import (CROPS, FEATURES, NETWORK_FILE, PROBABILITIES, SVM_FILE, SVM_LABEL, SVM_SCORES,
                                 file_entry, write_card)
from ferpipe.export.network import export_network, in_float32
from ferpipe.export.svm import as_svm_input, export_svm
from ferpipe.faces.settings import FaceSettings
from ferpipe.probabilities.names import SVM_DECISION_SOFTMAX
from ferpipe.probabilities.svm import (svm_decision_values, svm_decision_values_of_scores, svm_probabilities,
                                         svm_probabilities_of_scores, svm_probability_method)
from ferpipe.nn.models import as_model_input, feature_model, predict_batched
from ferpipe.nn.saved import load_model
from ferpipe.svm.model import final_svc, load_svm, pairwise_scores

PROBABILITY_TOLERANCE = 1e-4
SCORE_TOLERANCE = 1e-4  # on one-vs-rest decision values, beyond whole votes, of crops near a vote tie
VOTE_MARGIN = 1e-3  # |one-vs-one decision value| within which ONNX's float32 SVM may cast a vote the other way
PREPROCESSING = ("MTCNN finds the face (the faces: settings below); the crop is the square of side max(box width, "
                 "box height) x (1 + 2 x margin) centred on the box (turned so the eyes are level with align: true), "
                 "in grey (OpenCV RGB2GRAY), resized to crop_size x crop_size (INTER_AREA when shrinking); the "
                 "network takes its pixel values 0..255 as float32 of shape (N, crop_size, crop_size, 1) and "
                 "scales them itself")


def read_metrics(path: Path, fields: tuple[str, ...], producer: str) -> dict[str, Any]:
    """The `fields` of the metrics file `producer` wrote, for the model card."""
    require(path.is_file(), f"{path}: not found; run the {producer} stage")
    values = parse_json(read_text(path, RECORD_LIMIT), str(path), allow_nan=True)
    missing = [f for f in fields if not isinstance(values, dict) or f not in values]
    require(not missing, f"{path}: missing {', '.join(missing)}; rerun the {producer} stage")
    return {f: values[f] for f in fields}


def parity(session, svm_session, model, features_of, svm, crops: np.ndarray, where: Path) -> dict[str, Any]:
    """ONNX against Keras and skops on `crops`; a difference beyond the tolerances is an error."""
    onnx_probabilities, onnx_features = session.run([PROBABILITIES, FEATURES], {CROPS: as_model_input(crops)})
    probabilities = predict_batched(model, crops)
    features = predict_batched(features_of, crops).reshape(len(crops), -1)
    largest, argmax_agrees = _agreement(onnx_probabilities, probabilities)
    require(largest <= PROBABILITY_TOLERANCE and argmax_agrees,
            f"{where}: the ONNX network's probabilities differ from the Keras model's by up to {largest:.2e} "
            f"(tolerance {PROBABILITY_TOLERANCE:g}) or name another class")
    return {"crops": len(crops), "max_probability_difference": largest, "probability_tolerance": PROBABILITY_TOLERANCE,
            "argmax_agrees": argmax_agrees, **svm_parity(svm_session, svm, features, where),
            "max_feature_difference": float(np.abs(onnx_features - features).max())}


def svm_parity(svm_session, svm, features: np.ndarray, where: Path) -> dict[str, Any]:
    """The ONNX SVM against the skops SVM on `features` (see the module's docstring)."""
    labels, scores = svm_session.run([SVM_LABEL, SVM_SCORES], {FEATURES: as_svm_input(features)})
    method = svm_probability_method(svm)
    voting = method == SVM_DECISION_SOFTMAX and len(svm.classes_) > 2  # two classes: one value, no votes
    tie = near_vote_tie(svm, features) if voting else np.zeros(len(features), bool)
    kept = ~tie
    labels_agree = bool(np.array_equal(labels[kept], svm.predict(features)[kept]))
    require(labels_agree, f"{where}: the ONNX SVM predicts other classes than the skops SVM on the test crops")
    largest, argmax_agrees = None, True
    if kept.any():
        largest, argmax_agrees = _agreement(svm_probabilities_of_scores(scores, method)[kept],
                                            svm_probabilities(svm, features)[kept])
        require(largest <= PROBABILITY_TOLERANCE and argmax_agrees,
                f"{where}: the SVM head's probabilities ({method}) read from the ONNX SVM differ from the skops SVM's "
                f"by up to {largest:.2e} (tolerance {PROBABILITY_TOLERANCE:g}) or name another class")
    apart = 0
    if tie.any():
        moved = svm_decision_values_of_scores(scores[tie]) - svm_decision_values(svm, features[tie])
        off = float(np.abs(moved - np.round(moved)).max())
        require(off <= SCORE_TOLERANCE,
                f"{where}: on the {int(tie.sum())} crops near a one-vs-one vote tie, the ONNX SVM's one-vs-rest "
                f"values differ from the skops SVM's by {off:.2e} beyond whole votes (tolerance {SCORE_TOLERANCE:g})")
        apart = int((np.round(moved) != 0).any(axis=1).sum())
    return {"svm_labels_agree": labels_agree, "max_svm_probability_difference": largest,
            "svm_crops_near_a_vote_tie": int(tie.sum()), "svm_crops_a_vote_apart": apart}


def near_vote_tie(svm, features: np.ndarray) -> np.ndarray:
    """Rows with a one-vs-one decision value of the skops SVM within VOTE_MARGIN of 0."""
    x = svm[:-1].transform(features) if len(svm) > 1 else features
    values = pairwise_scores(final_svc(svm), x)
    return (np.abs(values.reshape(len(features), -1)) < VOTE_MARGIN).any(axis=1)


def _agreement(found: np.ndarray, expected: np.ndarray) -> tuple[float, bool]:
    """The largest absolute difference, and whether every row's most probable class is the same."""
    return float(np.abs(found - expected).max()), bool(np.array_equal(found.argmax(1), expected.argmax(1)))


def run_export(model_dir: Path, svm_path: Path, test_path: Path, data_metrics: Path, softmax_metrics: Path,
               svm_metrics: Path, faces: FaceSettings, backend: str, out: Path) -> dict[str, Any]:
    import onnxruntime

    data = read_metrics(data_metrics, ("dataset", "content_hash"), "fetch")
    accuracy = {"softmax": read_metrics(softmax_metrics, ("accuracy",), "evaluate_softmax")["accuracy"],
                "svm": read_metrics(svm_metrics, ("accuracy",), "svm")["accuracy"]}
    model, info = load_model(model_dir)
    model = in_float32(model)  # what the ONNX file computes in, and what it is checked against
    svm = load_svm(svm_path)
    test = load_split(test_path)
    info.check_crops(test["images"], str(test_path))
    out.mkdir(parents=True, exist_ok=True)
    export_network(model, info.feature_layer, info.crop_size, out / NETWORK_FILE)
    export_svm(svm, out / SVM_FILE)
    session = onnxruntime.InferenceSession(out / NETWORK_FILE)
    svm_session = onnxruntime.InferenceSession(out / SVM_FILE)
    features_of = feature_model(model, info.feature_layer)
    checked = parity(session, svm_session, model, features_of, svm, test["images"], test_path)
    width = int(np.prod(features_of.output.shape[1:]))
    card = {
        "classes": info.classes, "crop_size": info.crop_size, "preprocessing": PREPROCESSING,
        "network": file_entry(out / NETWORK_FILE, input=CROPS, outputs={PROBABILITIES: len(info.classes),
                              FEATURES: width}, arch=info.config.get("arch"), exported_on=backend,
                              trained_precision=info.precision),
        "svm": file_entry(out / SVM_FILE, input=FEATURES, outputs={SVM_LABEL: 1, SVM_SCORES: len(info.classes)},
                          probabilities=svm_probability_method(svm)),
        "faces": faces.model_dump(mode="json"),
        "dataset": {"name": data["dataset"], "content_hash": data["content_hash"]},
        "test_accuracy": accuracy,
        "parity": checked,
    }
    write_card(out, card)
    return card
