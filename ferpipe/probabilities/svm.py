"""The SVM head's (N, K) class probabilities: Platt-calibrated where the svm stage fitted them
(`svm.probability: true`), else the softmax of the SVC's one-vs-rest decision values, which sum to 1
and rank the classes as the SVC does but are not calibrated. The same from a fitted scikit-learn
pipeline and from the exported ONNX SVM's scores."""
from __future__ import annotations

import numpy as np

from ferpipe.probabilities.names import SVM_DECISION_SOFTMAX, SVM_PLATT


def softmax(values: np.ndarray) -> np.ndarray:
    """Row-wise softmax (numpy only: the ONNX path of `predict` loads neither SciPy nor scikit-learn)."""
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def svm_probability_method(svm) -> str:
    """How `svm_probabilities` obtains a fitted SVM pipeline's probabilities (a PROBABILITY_NOTES key)."""
    return SVM_PLATT if hasattr(svm, "predict_proba") else SVM_DECISION_SOFTMAX  # only a calibrated SVM has it


def svm_probabilities(svm, features: np.ndarray) -> np.ndarray:
    """(N, K) class probabilities of a fitted SVM pipeline (see `svm_probability_method`)."""
    if svm_probability_method(svm) == SVM_PLATT:
        return svm.predict_proba(features)
    return softmax(svm_decision_values(svm, features))


def svm_decision_values(svm, features: np.ndarray) -> np.ndarray:
    """(N, K) one-vs-rest decision values of a fitted SVM pipeline; for two classes scikit-learn's one
    signed value d (positive for the second class) as [-d, d]."""
    scores = svm.decision_function(features)
    return np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores


def svm_probabilities_of_scores(scores: np.ndarray, method: str) -> np.ndarray:
    """`svm_probabilities` from the exported SVM's scores: Platt probabilities as they are; else the
    softmax of `svm_decision_values_of_scores`. The export stage checks that both agree on the test crops."""
    if method == SVM_PLATT:
        return scores
    return softmax(svm_decision_values_of_scores(scores))


def svm_decision_values_of_scores(scores: np.ndarray) -> np.ndarray:
    """`svm_decision_values` from the exported (decision-value) SVM's scores: for two classes skl2onnx
    gives [d, -d], d > 0 meaning the second class (the reverse of the class order)."""
    return scores[:, ::-1] if scores.shape[1] == 2 else scores
