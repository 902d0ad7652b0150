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
import statistics
from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.eval.compare import aligned, bootstrap_interval, mcnemar_exact
from ferpipe.eval.predictions import load_predictions
from ferpipe.eval.settings import CompareSettings

DEEP = {"softmax": "network softmax", "network": "network + SVM"}
HANDCRAFTED = {"lbp": "LBP + SVM", "hog": "HOG + SVM"}
PIPELINES = {**DEEP, **HANDCRAFTED}


def pooled(paths: list[Path]) -> dict[str, np.ndarray]:
    """The predictions of every file in one (ids must not repeat across them), each file's accuracy and size."""
    parts = [load_predictions(path) for path in paths]
    for path, part in zip(paths[1:], parts[1:]):
        require(list(part["classes"]) == list(parts[0]["classes"]), f"{path}: its classes differ from those of {paths[0]}")
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("predicted", "labels", "ids")}
    require(len(np.unique(out["ids"])) == len(out["ids"]),
            f"{', '.join(map(str, paths))}: a test image is in two of the files (folds must be disjoint)")
    out["classes"] = parts[0]["classes"]
    out["accuracies"] = [float(np.mean(p["predicted"] == p["labels"])) for p in parts]
    out["sizes"] = [len(p["labels"]) for p in parts]
    return out


def three_way(files: dict[str, list[Path]], settings: CompareSettings) -> dict:
    """The three-way table: `files` maps softmax / network / lbp / hog to their prediction files."""
    counts = {name: len(paths) for name, paths in files.items()}
    require(len(set(counts.values())) == 1, f"every pipeline needs as many prediction files: {counts}")
    require(any(k in files for k in HANDCRAFTED), "give at least one hand-crafted pipeline (--lbp, --hog)")
    names = [k for k in PIPELINES if k in files]
    reference = pooled(files[names[0]])
    correct, pipelines = {}, {}
    for name in names:
        preds = reference if name == names[0] else pooled(files[name])
        matched = aligned(reference, preds, files[names[0]][0], files[name][0])
        correct[name] = matched["predicted"] == reference["labels"]
        per_file = preds["accuracies"]
        pipelines[name] = {"label": PIPELINES[name], "accuracy": float(correct[name].mean()), "per_file": per_file,
                           "images_per_file": preds["sizes"], "mean": statistics.fmean(per_file),
                           "sd": statistics.stdev(per_file) if len(per_file) >= 2 else None}
    comparisons = []
    for deep in (k for k in DEEP if k in files):
        for crafted in (k for k in HANDCRAFTED if k in files):
            test = mcnemar_exact(correct[deep], correct[crafted])
            low, high = bootstrap_interval(correct[crafted], correct[deep], settings.bootstrap, settings.seed)
            comparisons.append({
                "deep": deep, "handcrafted": crafted,
                "difference": pipelines[deep]["accuracy"] - pipelines[crafted]["accuracy"],
                "difference_is": f"{PIPELINES[deep]} minus {PIPELINES[crafted]}",
                "ci95_low": low, "ci95_high": high, "mcnemar_p_value": test["p_value"],
                "deep_only_correct": test["first_only_correct"], "handcrafted_only_correct": test["second_only_correct"]})
    return {"n": int(len(reference["labels"])), "files_per_pipeline": counts[names[0]],
            "bootstrap_resamples": settings.bootstrap, "pipelines": pipelines, "comparisons": comparisons}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ferpipe traditional", description=__doc__.splitlines()[0])
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
