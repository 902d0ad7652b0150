"""Stage `svm`: an RBF SVM on the deep features, C and gamma chosen on val accuracy, scored once on test.

Reads data/embeddings/{train,val,test}.npz; writes the fitted scikit-learn Pipeline (scaler, PCA,
SVC) as data/svm/model.skops, metrics/svm.json (test accuracy, macro-F1, per class, the chosen
C/gamma and its val accuracy, fit seconds, support vectors), plots/svm_grid.json (val accuracy
of every grid point), plots/svm_confusion.json (DVC `confusion` template rows) and
data/predictions/svm_test.npz for `compare`. Reads only the `svm:` params block.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.svm.fit import run_svm
from ferpipe.svm.settings import SvmSettings


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--embeddings")
    parser.add_argument("--model")
    parser.add_argument("--metrics")
    parser.add_argument("--grid")
    parser.add_argument("--confusion")
    parser.add_argument("--predictions")
    args = parser.parse_args(argv)
    outputs = (args.model, args.metrics, args.grid, args.confusion, args.predictions)
    with staged_outputs(*outputs) as (model, metrics_path, grid, confusion, predictions):
        settings = SvmSettings.from_params(load_params(args.params), args.params)
        metrics = run_svm(Path(args.embeddings), settings, model, metrics_path, grid, confusion, predictions)
        print(f"svm: C={metrics['C']:g} gamma={metrics['gamma']} chosen on val ({metrics['val_accuracy']:.4f} of "
              f"{metrics['grid_points']} grid points); test accuracy {metrics['accuracy']:.4f}, macro-F1 "
              f"{metrics['macro_f1']:.4f}; grid {metrics['grid_seconds']:.1f} s, final fit {metrics['fit_seconds']:.1f} s, "
              f"{metrics['support_vectors']} support vectors")


if __name__ == "__main__":
    run_stage(main)
