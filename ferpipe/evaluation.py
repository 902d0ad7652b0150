"""Classification metrics of a model's test predictions (no deep-learning framework needed)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from ferpipe.errors import require


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support of argmax predictions.

    Every class of `classes` is reported, also one absent from the test set (its recall is 0 then,
    and precision 0 when never predicted: scikit-learn's zero_division=0).
    """
    require(probabilities.ndim == 2 and probabilities.shape == (len(labels), len(classes)),
            f"predictions {probabilities.shape} do not match {len(labels)} labels and {len(classes)} classes")
    predicted = probabilities.argmax(axis=1)
    ids = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=ids, zero_division=0)
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, labels=ids, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(classes)
        },
    }


def confusion_rows(labels: np.ndarray, predicted: np.ndarray, classes: list[str]) -> list[dict[str, str]]:
    """One {actual, predicted} row per test image: the data format of DVC's `confusion` template."""
    return [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(labels.tolist(), predicted.tolist())]
