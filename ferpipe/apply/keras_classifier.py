"""The trained network, loaded once, and the SVM on its features: class probabilities of grey crops.

The softmax head gives the network's own probabilities. The SVM head runs the saved SVM pipeline
(data/svm/model.skops) on the network's `features` layer, its probabilities as
`ferpipe.probabilities.svm` makes them. `KerasClassifier` imports keras: create it only after
`ferpipe.nn.backend.select_backend`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
from ferpipe.probabilities.names import SOFTMAX
from ferpipe.probabilities.svm import svm_probabilities, svm_probability_method
from ferpipe.svm.model import load_svm


class KerasClassifier:
    """The network of `model_dir` and, given `svm_path`, the SVM fitted on its features."""

    def __init__(self, model_dir: str | Path, svm_path: str | Path | None = None):
        from ferpipe.nn.models import feature_model
        from ferpipe.nn.saved import load_model

        self.model, self.info = load_model(model_dir)
        self.features_of = feature_model(self.model, self.info.feature_layer)
        self.svm = None
        if svm_path is not None:
            self.svm = load_svm(svm_path)
            fitted = np.asarray(self.svm.classes_)
            k = len(self.info.classes)
            require(np.array_equal(fitted, np.arange(k)),
                    f"{svm_path}: fitted on class ids {fitted.tolist()}, but the model in {model_dir} has {k} classes "
                    f"{self.info.classes}; rerun the svm stage for this model")
            dims, width = self.svm.n_features_in_, int(np.prod(self.features_of.output.shape[1:]))
            require(dims == width, f"{svm_path}: fitted on {dims}-d features, but the model in {model_dir} gives "
                                   f"{width}-d features; rerun the embed and svm stages for this model")

    @property
    def classes(self) -> list[str]:
        return self.info.classes

    @property
    def crop_size(self) -> int:
        return self.info.crop_size

    def softmax(self, crops: np.ndarray) -> np.ndarray:
        from ferpipe.nn.models import predict_probabilities

        return predict_probabilities(self.model, crops)

    def features(self, crops: np.ndarray) -> np.ndarray:
        from ferpipe.nn.models import predict_batched

        return predict_batched(self.features_of, crops).reshape(len(crops), -1)

    def probability_method(self, head: str) -> str:
        """How `head`'s probabilities are obtained (a PROBABILITY_NOTES key)."""
        if head == "softmax":
            return SOFTMAX
        require(self.svm is not None, "head svm: no SVM model was given")
        return svm_probability_method(self.svm)

    def probabilities(self, crops: np.ndarray, head: str) -> np.ndarray:
        """(N, K) probabilities of `head` (softmax | svm) for uint8 crops (N, S, S)."""
        self.info.check_crops(crops, "face crops")
        if self.probability_method(head) == SOFTMAX:
            return self.softmax(crops)
        return svm_probabilities(self.svm, self.features(crops))
