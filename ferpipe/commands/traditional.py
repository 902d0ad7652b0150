"""`python -m ferpipe traditional`: the paper's Table 3 claim on one protocol, the deep pipeline against
hand-crafted-feature pipelines on the same test images (a three-way table: network / LBP / HOG, each
with the RBF SVM, and the network's softmax head).

Each pipeline is given as the test predictions files of the `svm` (or `evaluate_softmax`) stage, one
per split or fold, in the same order for every pipeline (a k-fold: fold 0, 1, ... of each); the
folds' test images must be distinct (each image tested once), and every pipeline must cover the same
images. Written to --out (JSON, read by the `report` stage's --traditional): each pipeline's accuracy,
pooled over all the files and per file (mean and sd where there are several); for each deep pipeline
given against each hand-crafted one, pooled over the files, the accuracy difference (deep minus hand-crafted),
the exact McNemar p-value with the discordant counts, and the paired bootstrap 95% interval
(ferpipe.eval.compare's). The bootstrap resamples and seed are the `compare:` block's.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.eval.settings import CompareSettings
from ferpipe.eval.traditional import PIPELINES, three_way
from ferpipe.commands import help_description


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ferpipe traditional", description=help_description(__doc__))
    parser.add_argument("--params", default="params.yaml", help="its `compare:` block: bootstrap resamples and seed")
    for name, label in PIPELINES.items():
        parser.add_argument(f"--{name}", nargs="+", type=Path, help=f"test predictions of the {label}, one file per fold")
    parser.add_argument("--out", required=True, help="the three-way table, JSON")
    args = parser.parse_args(argv)
    files = {name: getattr(args, name) for name in PIPELINES if getattr(args, name)}
    with staged_outputs(args.out) as (out,):
        table = three_way(files, CompareSettings.from_params(load_params(args.params), args.params))
        out.write_text(json.dumps(table, indent=2) + "\n")
    for name, row in table["pipelines"].items():
        print(f"{row['label']}: {row['accuracy']:.4f} on {table['n']} test images")
    for c in table["comparisons"]:
        print(f"{c['difference_is']}: {c['difference']:+.4f} (95% interval {c['ci95_low']:+.4f} .. {c['ci95_high']:+.4f}), "
              f"McNemar p={c['mcnemar_p_value']:.3g}")
