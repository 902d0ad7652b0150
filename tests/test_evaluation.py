"""Softmax evaluation metrics and the confusion rows of DVC's `confusion` template."""
from __future__ import annotations

import numpy as np
import pytest

from ferpipe.core.errors import FerpipeError
from ferpipe.eval.metrics import classification_metrics, confusion_rows

CLASSES = ["a", "b", "c"]


def test_metrics_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(labels, np.array([0, 1, 1, 1, 2, 0]), CLASSES)
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and m["per_class"]["b"]["recall"] == 1.0
    assert m["per_class"]["c"]["precision"] == 1.0 and m["per_class"]["c"]["recall"] == 0.5
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_class_absent_from_test_set_is_named_not_scored():
    # predicted c once though no test image is c: c has no recall (not 0.0) and is named as absent
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 2]), CLASSES)
    assert list(m["per_class"]) == ["a", "b"] and m["classes_absent_from_test"] == ["c"]
    full = classification_metrics(np.array([0, 1, 2]), np.array([0, 1, 2]), CLASSES)
    assert full["classes_absent_from_test"] == [] and list(full["per_class"]) == CLASSES


def test_macro_f1_averages_over_the_classes_present_in_test():
    # perfect predictions with class c absent: macro-F1 is 1, not 2/3
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 1]), CLASSES)
    assert m["macro_f1"] == 1.0 and m["classes_in_test"] == 2
    # a class present in test but never predicted still counts (F1 0)
    m = classification_metrics(np.array([0, 1, 2]), np.array([0, 1, 1]), CLASSES)
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_shape_mismatch_is_an_error():
    with pytest.raises(FerpipeError, match="do not match"):
        classification_metrics(np.array([0, 1, 2]), np.array([0, 1]), CLASSES)
    with pytest.raises(FerpipeError, match="outside the class range"):
        classification_metrics(np.array([0, 3]), np.array([0, 1]), CLASSES)


def test_confusion_rows_name_actual_and_predicted():
    rows = confusion_rows(np.array([0, 2]), np.array([1, 2]), CLASSES)
    assert rows == [{"actual": "a", "predicted": "b"}, {"actual": "c", "predicted": "c"}]
