"""Stage `compare`: the softmax head against the SVM on the same test images.

Reads data/predictions/softmax_test.npz and data/predictions/svm_test.npz (they must cover the
same test ids); writes metrics/compare.json (both accuracies and macro-F1s, their difference,
exact McNemar p-value and discordant counts, paired bootstrap 95% interval of the accuracy
difference, per-class recall) and plots/compare_recall.png. Reads only the `compare:` block.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.eval.compare import compare, write_compare
from ferpipe.eval.settings import CompareSettings


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--softmax")
    parser.add_argument("--svm")
    parser.add_argument("--metrics")
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    with staged_outputs(args.metrics, args.plot) as (metrics_path, plot_path):
        settings = CompareSettings.from_params(load_params(args.params), args.params)
        report, classes = compare(Path(args.softmax), Path(args.svm), settings)
        write_compare(report, classes, metrics_path, plot_path)
        print(f"compare on {report['n']} test images: softmax {report['softmax_accuracy']:.4f}, "
              f"SVM {report['svm_accuracy']:.4f}, difference {report['accuracy_difference']:+.4f} "
              f"(95% bootstrap interval {report['bootstrap_ci95_low']:+.4f} .. {report['bootstrap_ci95_high']:+.4f}), "
              f"McNemar p={report['mcnemar_p_value']:.3g} ({report['svm_only_correct']} SVM-only vs "
              f"{report['softmax_only_correct']} softmax-only correct)")


if __name__ == "__main__":
    run_stage(main)
