"""The softmax head on the test split: metrics, confusion rows and predictions for `compare`.

Import only after `ferpipe.nn.backend.select_backend` (the model is loaded with keras).
"""
from __future__ import annotations

import json
from pathlib import Path

from ferpipe.core.errors import require
from ferpipe.data.arrays import load_split
from ferpipe.eval.metrics import classification_metrics, write_confusion
from ferpipe.eval.predictions import save_predictions
from ferpipe.nn.models import predict_probabilities
from ferpipe.nn.saved import load_model


def evaluate_softmax(model_dir: Path, test_path: Path, metrics_path: Path, confusion_path: Path,
                     predictions_path: Path) -> dict:
    test = load_split(test_path)
    model, info = load_model(model_dir)
    require([str(c) for c in test["classes"]] == info.classes,
            f"{test_path}: its classes differ from the model's {info.classes}")
    info.check_crops(test["images"], str(test_path))
    probabilities = predict_probabilities(model, test["images"])
    predicted = probabilities.argmax(axis=1)
    metrics = classification_metrics(test["labels"], predicted, info.classes)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    write_confusion(confusion_path, test["labels"], predicted, info.classes)
    save_predictions(predictions_path, predicted, test["labels"], test["ids"], info.classes, probabilities)
    return metrics
