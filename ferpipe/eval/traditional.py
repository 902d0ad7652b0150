"""The paper's Table 3 claim on one protocol (`python -m ferpipe traditional`, ferpipe/commands/traditional.py,
whose help says what it reads and writes): the deep pipeline against hand-crafted-feature pipelines on the
same test images, a three-way table of network / LBP / HOG, each with the RBF SVM, and the network's
softmax head, with pooled accuracies, exact McNemar tests and paired bootstrap intervals.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
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
