"""Stage `generalize`: the trained model on a smile / non-smile target it never saw (GENKI-4K or the demo target).

Crops the target (`generalize.target`) with the `faces:` settings, then measures zero-shot
P(smile) = P(happy) of the softmax head and of the SVM, and a cross-validated linear classifier on
the frozen features. Reads data/model/, data/svm/model.skops, the `generalize:` and `faces:`
blocks, `backend`, for target genki4k `sources.genki4k` (or $FERPIPE_SOURCE_GENKI4K) and
`fetch.sha256.genki4k`, and the speed-only `runtime.faces:`. Writes metrics/generalize.json and
plots/generalize_roc.png.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.apply.generalize import run_generalize
from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.nn.backend import backend_param


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--model")
    parser.add_argument("--svm", help="the svm stage's model ('' : softmax head only)")
    parser.add_argument("--metrics")
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    with staged_outputs(args.metrics, args.plot) as (metrics_path, plot_path):
        params = load_params(args.params)
        metrics = run_generalize(params, args.params, Path(args.model), Path(args.svm) if args.svm else None,
                                 backend_param(params, args.params), metrics_path, plot_path)
        zero, frozen = metrics["zero_shot"], metrics["frozen_features"]
        print(f"generalize: {metrics['target']} target, {metrics['images']} faces ({metrics['smile']} smiles); zero-shot "
              + ", ".join(f"{head} accuracy {m['accuracy']:.3f} AUC {m['roc_auc']:.3f}" for head, m in zero.items())
              + f"; frozen features accuracy {frozen['accuracy_mean']:.3f} +/- {frozen['accuracy_sd']:.3f} "
              f"({frozen['folds']}-fold)")


if __name__ == "__main__":
    run_stage(main)
