"""The svm stage's scikit-learn Pipeline (scaler, PCA, SVC, or its Platt calibration) as ONNX, by skl2onnx.

The input is float64, as scikit-learn computes, so that the ONNX SVM decides every row as the
skops model does (float32 rounding flips a row whose one-vs-one scores sit near zero).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType
from sklearn.pipeline import Pipeline

from ferpipe.export.canonical import canonical
from ferpipe.export.card import FEATURES, SVM_LABEL, SVM_SCORES

OPSETS = {"": 18, "ai.onnx.ml": 3}


def export_svm(svm: Pipeline, path: Path) -> None:
    classes = len(svm.classes_)
    onx = to_onnx(svm, initial_types=[(FEATURES, DoubleTensorType([None, svm.n_features_in_]))],
                  final_types=[(SVM_LABEL, Int64TensorType([None])), (SVM_SCORES, DoubleTensorType([None, classes]))],
                  target_opset=OPSETS, options={"zipmap": False})
    path.write_bytes(canonical(onx, "ferpipe_svm").SerializeToString())  # skl2onnx names the graph at random


def as_svm_input(features: np.ndarray) -> np.ndarray:
    return np.asarray(features, dtype=np.float64)
