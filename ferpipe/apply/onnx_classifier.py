"""The exported model (data/export/: the export stage's ONNX files and model card) run by ONNX Runtime:
the same class probabilities as `KerasClassifier`, with neither Keras, TensorFlow nor scikit-learn in the
process.

The card is read first and each file's sha256 checked against it; then each ONNX file must have the
inputs and outputs the card describes (an ONNX file of another model fails here).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.core.errors import FerpipeError, require
from ferpipe.export.card import CARD_FILE, CROPS, FEATURES, PROBABILITIES, SVM_LABEL, SVM_SCORES, read_card
from ferpipe.export.ship import session_options
from ferpipe.probabilities.names import SOFTMAX
from ferpipe.probabilities.svm import svm_probabilities_of_scores


def _session(model: bytes, path: Path):
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(model, session_options(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a file that is not a model
        raise FerpipeError(f"{path}: ONNX Runtime cannot load it ({type(exc).__name__}: {exc})") from exc


def _shapes(args) -> dict[str, tuple]:
    """name -> shape of ONNX Runtime's inputs or outputs, an unnamed or symbolic dimension as None."""
    return {a.name: tuple(d if isinstance(d, int) else None for d in a.shape) for a in args}


def _require_signature(session, path: Path, inputs: dict[str, tuple], outputs: dict[str, tuple]) -> None:
    found_in, found_out = _shapes(session.get_inputs()), _shapes(session.get_outputs())
    require(found_in == inputs and all(found_out.get(k) == v for k, v in outputs.items()),
            f"{path}: an ONNX model of another network: it takes {found_in} and gives {found_out}, the model card "
            f"describes {inputs} -> {outputs}; rerun the export stage")


class OnnxClassifier:
    """The exported network of `folder` and, for `head` svm, its exported SVM; `head` None: every head the
    export has (a shipped network-only model has no SVM)."""

    def __init__(self, folder: str | Path, head: str | None):
        folder = Path(folder)
        self.card, files = read_card(folder)
        self.classes: list[str] = list(self.card.classes)
        self.crop_size: int = self.card.crop_size
        k, s = len(self.classes), self.crop_size
        width = self.card.network.outputs.features
        path = folder / self.card.network.file
        self.network = _session(files["network"], path)
        _require_signature(self.network, path, {CROPS: (None, s, s, 1)}, {PROBABILITIES: (None, k), FEATURES: (None, width)})
        self.svm = None
        if head == "svm" or (head is None and self.card.svm is not None):
            require(self.card.svm is not None, f"{folder}: a network-only model (no SVM head in {CARD_FILE}): "
                                               "use --head softmax")
            path = folder / self.card.svm.file
            self.svm = _session(files["svm"], path)
            _require_signature(self.svm, path, {FEATURES: (None, width)}, {SVM_LABEL: (None,), SVM_SCORES: (None, k)})

    @property
    def heads(self) -> tuple[str, ...]:
        """The heads loaded: softmax, and svm where its file was loaded."""
        return (SOFTMAX,) if self.svm is None else (SOFTMAX, "svm")

    def probability_method(self, head: str) -> str:
        return SOFTMAX if head == "softmax" else self.card.svm.probabilities

    def probabilities(self, crops: np.ndarray, head: str) -> np.ndarray:
        """(N, K) probabilities of `head` (softmax | svm) for uint8 crops (N, S, S)."""
        crops = crops.astype(np.float32)[..., None]
        if head == "softmax":
            return self.network.run([PROBABILITIES], {CROPS: crops})[0]
        features = self.network.run([FEATURES], {CROPS: crops})[0]
        scores = self.svm.run([SVM_SCORES], {FEATURES: features.astype(np.float64)})[0]
        return svm_probabilities_of_scores(scores, self.probability_method(head))
