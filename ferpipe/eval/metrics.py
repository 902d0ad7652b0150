"""Classification metrics of test predictions (no deep-learning framework needed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from ferpipe.core.errors import require

MACRO_F1_NOTE = "unweighted mean of the F1 of the classes present in the test labels"


def classification_metrics(labels: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support.

    Per-class figures cover the classes present in the test labels only: a class absent from test
    has no recall (it is not 0.0, which would read as "all wrong"), so it is left out of `per_class`
    and named under `classes_absent_from_test`; macro-F1 likewise averages over the present classes.
    """
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    require(labels.shape == predicted.shape and labels.ndim == 1,
            f"predictions {predicted.shape} do not match labels {labels.shape}")
    require(len(labels) > 0, "no test labels to score")
    k = len(classes)
    require(labels.min() >= 0 and labels.max() < k and predicted.min() >= 0 and predicted.max() < k,
            f"labels or predictions outside the class range 0..{k - 1}")
    ids = list(range(k))
    present = sorted(set(labels.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=ids, zero_division=0)
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, labels=present, average="macro", zero_division=0)),
        "macro_f1_over": MACRO_F1_NOTE,
        "classes_in_test": len(present),
        "classes_absent_from_test": [name for i, name in enumerate(classes) if i not in present],
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(classes) if i in present
        },
    }


def confusion_rows(labels: np.ndarray, predicted: np.ndarray, classes: list[str]) -> list[dict[str, str]]:
    """One {actual, predicted} row per test image: the data format of DVC's `confusion` template."""
    return [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(labels.tolist(), predicted.tolist())]


def write_confusion(path: Path, labels, predicted, classes: list[str]) -> None:
    """DVC `confusion` template rows, one per line so that diffs stay readable."""
    rows = confusion_rows(labels, predicted, classes)
    path.write_text("[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n")
