"""The `compare` stage: the softmax head against the SVM on the same test images.

Both prediction files must cover the same test ids (rows are matched by id). Reported: each
classifier's accuracy, macro-F1 and per-class recall; the accuracy difference (SVM minus softmax);
an exact McNemar test on the discordant pairs; a paired bootstrap 95% interval of the difference.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.stats import binom

from ferpipe.core.errors import require
from ferpipe.eval.metrics import classification_metrics
from ferpipe.eval.plots import plot_recall
from ferpipe.eval.predictions import load_predictions
from ferpipe.eval.settings import CompareSettings


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> dict:
    """Exact (binomial) McNemar test: two-sided p-value from the discordant pairs alone.

    Under the null hypothesis each discordant image is equally likely to favour either classifier,
    so min(b, c) ~ Binomial(b + c, 1/2); p = min(1, 2 P(X <= min(b, c))), and 1 without any
    discordant pair.
    """
    first_only = int(np.sum(first_correct & ~second_correct))
    second_only = int(np.sum(~first_correct & second_correct))
    n = first_only + second_only
    p = 1.0 if n == 0 else float(min(1.0, 2.0 * binom.cdf(min(first_only, second_only), n, 0.5)))
    return {"first_only_correct": first_only, "second_only_correct": second_only, "p_value": p}


def bootstrap_interval(first_correct: np.ndarray, second_correct: np.ndarray, resamples: int, seed: int,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of accuracy(second) - accuracy(first) over paired bootstrap resamples.

    Resampling test images with replacement and scoring both classifiers on the same resample
    only changes how many images of each kind (second only right, first only right, both
    alike) the resample holds: that is one multinomial draw, used here instead of the
    equivalent N-index resample (the same distribution, in O(resamples)).
    """
    d = second_correct.astype(int) - first_correct.astype(int)
    n = len(d)
    counts = np.array([np.sum(d == 1), np.sum(d == -1), np.sum(d == 0)])
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=resamples)
    differences = (draws[:, 0] - draws[:, 1]) / n
    tail = (1 - level) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return float(low), float(high)


def aligned(softmax: dict[str, np.ndarray], svm: dict[str, np.ndarray], softmax_path: Path,
            svm_path: Path) -> dict[str, np.ndarray]:
    """The SVM's predictions reordered to the softmax file's ids; both must cover the same images."""
    where = f"{softmax_path} and {svm_path}"
    for path, preds in ((softmax_path, softmax), (svm_path, svm)):
        require(len(np.unique(preds["ids"])) == len(preds["ids"]), f"{path}: test ids are not unique")
        require(len(preds["ids"]) > 0, f"{path}: no predictions")
    require(list(softmax["classes"]) == list(svm["classes"]), f"{where}: different class names")
    only_softmax = np.setdiff1d(softmax["ids"], svm["ids"])
    only_svm = np.setdiff1d(svm["ids"], softmax["ids"])
    require(len(only_softmax) == 0 and len(only_svm) == 0,
            f"{where} cover different test images ({len(only_softmax)} ids only in the first, "
            f"{len(only_svm)} only in the second, e.g. {[*only_softmax[:3], *only_svm[:3]]}); "
            f"rerun both stages on the same test split")
    order = np.argsort(svm["ids"])[np.searchsorted(np.sort(svm["ids"]), softmax["ids"])]
    out = {k: svm[k][order] for k in ("predicted", "labels", "ids")}
    require(np.array_equal(out["labels"], softmax["labels"]), f"{where}: the same test ids carry different labels")
    return out


def compare(softmax_path: Path, svm_path: Path, s: CompareSettings) -> tuple[dict, list[str]]:
    softmax = load_predictions(softmax_path)
    svm = aligned(softmax, load_predictions(svm_path), softmax_path, svm_path)
    classes = [str(c) for c in softmax["classes"]]
    labels = softmax["labels"]
    scores = {name: classification_metrics(labels, preds["predicted"], classes)
              for name, preds in (("softmax", softmax), ("svm", svm))}
    softmax_correct, svm_correct = softmax["predicted"] == labels, svm["predicted"] == labels
    test = mcnemar_exact(softmax_correct, svm_correct)
    low, high = bootstrap_interval(softmax_correct, svm_correct, s.bootstrap, s.seed)
    report = {
        "n": int(len(labels)),
        "softmax_accuracy": scores["softmax"]["accuracy"],
        "svm_accuracy": scores["svm"]["accuracy"],
        "accuracy_difference": scores["svm"]["accuracy"] - scores["softmax"]["accuracy"],
        "softmax_macro_f1": scores["softmax"]["macro_f1"],
        "svm_macro_f1": scores["svm"]["macro_f1"],
        "macro_f1_difference": scores["svm"]["macro_f1"] - scores["softmax"]["macro_f1"],
        "difference_is": "svm minus softmax",
        "mcnemar_p_value": test["p_value"],
        "softmax_only_correct": test["first_only_correct"],
        "svm_only_correct": test["second_only_correct"],
        "bootstrap_ci95_low": low,
        "bootstrap_ci95_high": high,
        "bootstrap_resamples": s.bootstrap,
        "classes_absent_from_test": scores["softmax"]["classes_absent_from_test"],
        "recall": {name: {c: per["recall"] for c, per in m["per_class"].items()} for name, m in scores.items()},
    }
    return report, classes


def write_compare(report: dict, classes: list[str], metrics_path: Path, plot_path: Path) -> None:
    metrics_path.write_text(json.dumps(report, indent=2) + "\n")
    recall, absent = report["recall"], report["classes_absent_from_test"]
    plot_recall(plot_path, [c for c in classes if c not in absent],
                {"softmax head": recall["softmax"], "RBF SVM on the deep features": recall["svm"]},
                f"per-class test recall (n={report['n']}): softmax {report['softmax_accuracy']:.1%}, "
                f"SVM {report['svm_accuracy']:.1%}, McNemar p={report['mcnemar_p_value']:.3g}"
                + (f"\nnot in the test set, so not shown: {', '.join(absent)}" if absent else ""))
