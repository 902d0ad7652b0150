"""Stage `evaluate_softmax`: the softmax head's test metrics, confusion matrix and predictions.

Reads data/model/ and data/augmented/test.npz; writes metrics/softmax.json (accuracy, macro-F1,
per-class precision/recall), plots/softmax_confusion.json (DVC `confusion` template rows) and
data/predictions/softmax_test.npz (probabilities, predicted, labels, ids, classes) for `compare`.
Reads only the top-level `backend` key.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.nn.backend import backend_param, select_backend
from ferpipe.nn.saved import read_model_info


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--model")
    parser.add_argument("--test")
    parser.add_argument("--metrics")
    parser.add_argument("--confusion")
    parser.add_argument("--predictions")
    args = parser.parse_args(argv)
    with staged_outputs(args.metrics, args.confusion, args.predictions) as (metrics_path, confusion_path, predictions_path):
        backend = backend_param(load_params(args.params), args.params)
        read_model_info(args.model)  # fail before the framework loads
        select_backend(backend)
        from ferpipe.eval.softmax import evaluate_softmax

        metrics = evaluate_softmax(Path(args.model), Path(args.test), metrics_path, confusion_path, predictions_path)
        print(f"evaluate_softmax: test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
              f"on {metrics['n']} images")


if __name__ == "__main__":
    run_stage(main)
