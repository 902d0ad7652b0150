"""The heads `predict` offers and how each one's probabilities come about: names only, so that the
ONNX path of `predict` can print them without importing scikit-learn or Keras."""
from __future__ import annotations

HEADS = ("softmax", "svm")
# How each head's probabilities come about (printed by `predict`, written by `generalize`).
SOFTMAX = "softmax"
SVM_PLATT = "svm_platt"
SVM_DECISION_SOFTMAX = "svm_decision_softmax"
PROBABILITY_NOTES = {
    SOFTMAX: "the network's softmax",
    SVM_PLATT: "the SVM's Platt-calibrated probabilities (svm.probability: true)",
    SVM_DECISION_SOFTMAX: "softmax of the SVM's one-vs-rest decision values (svm.probability: false): "
                          "they rank the classes as the SVM does but are not calibrated",
}
