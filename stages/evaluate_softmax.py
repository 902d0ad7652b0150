"""Stage `evaluate_softmax`: the softmax head's test metrics, confusion matrix and predictions.

Reads data/model/ and data/augmented/test.npz; writes metrics/softmax.json (accuracy, macro-F1,
per-class precision/recall), plots/softmax_confusion.json (DVC `confusion` template rows) and
data/predictions/softmax_test.npz (probabilities, predicted, labels, ids, classes) for `compare`.
Reads only the top-level `backend` key.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ferpipe.arrays import load_split
from ferpipe.backend import select_backend
from ferpipe.cli import run_stage, stage_parser
from ferpipe.errors import FerpipeError, require
from ferpipe.evaluation import classification_metrics, confusion_rows
from ferpipe.outputs import staged_outputs
from ferpipe.params import load_params, pick
from ferpipe.train_config import BACKENDS


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/model")
    parser.add_argument("--test", default="data/augmented/test.npz")
    parser.add_argument("--metrics", default="metrics/softmax.json")
    parser.add_argument("--confusion", default="plots/softmax_confusion.json")
    parser.add_argument("--predictions", default="data/predictions/softmax_test.npz")
    args = parser.parse_args(argv)
    with staged_outputs(args.metrics, args.confusion, args.predictions) as (metrics_path, confusion_path, predictions_path):
        backend = pick(load_params(args.params), "backend", source=args.params)["backend"]
        require(backend in BACKENDS, f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        model_file, info_file = Path(args.model) / "model.keras", Path(args.model) / "model.json"
        require(model_file.is_file() and info_file.is_file(), f"{args.model}: no model.keras/model.json; run the train stage")
        classes = json.loads(info_file.read_text())["classes"]
        test = load_split(args.test)
        require([str(c) for c in test["classes"]] == classes, f"{args.test}: its classes differ from the model's {classes}")
        select_backend(backend)
        import keras

        from ferpipe.models import predict_probabilities

        try:
            model = keras.models.load_model(model_file)
        except Exception as exc:
            raise FerpipeError(f"{model_file}: cannot load the Keras model: {exc}") from exc
        probabilities = predict_probabilities(model, test["images"])
        predicted = probabilities.argmax(axis=1)
        metrics = classification_metrics(test["labels"], probabilities, classes)
        metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
        rows = confusion_rows(test["labels"], predicted, classes)
        confusion_path.write_text("[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n")  # a row a line
        with open(predictions_path, "wb") as fh:
            np.savez(fh, probabilities=probabilities, predicted=predicted, labels=test["labels"], ids=test["ids"],
                     classes=np.asarray(classes, dtype=str))
        print(f"evaluate_softmax: test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
              f"on {metrics['n']} images")


if __name__ == "__main__":
    run_stage(main)
