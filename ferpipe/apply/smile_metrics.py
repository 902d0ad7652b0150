"""How well a model's knowledge carries over to a smile / non-smile target (no deep-learning framework needed).

- zero-shot: a score per image (P(happy) of a head), thresholded where the accuracy on the
  target's val part is highest, scored on the rest; ROC AUC over all images (it needs no threshold,
  so nothing is chosen for it); `argmax_accuracy` counts a smile where the head's most probable
  class is `happy`, with no threshold at all.
- frozen features: a logistic regression on the standardised features, k-fold cross-validated
  on the target (stratified, seeded folds); the mean and the sample standard deviation over the folds.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from ferpipe.core.figures import save_png  # noqa: E402

MAX_ITER = 5000


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold t (smile where score >= t) with the highest accuracy; of equals, the lowest.
    Candidates lie midway between neighbouring distinct scores, and beyond both ends."""
    distinct = np.unique(scores)
    candidates = np.concatenate([[distinct[0] - 1.0], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1.0]])
    accuracy = [np.mean((scores >= t) == labels) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def chance_accuracy(labels: np.ndarray) -> float:
    """Accuracy of always answering the more frequent class."""
    return float(max(np.mean(labels), 1 - np.mean(labels)))


def zero_shot(scores: np.ndarray, labels: np.ndarray, is_val: np.ndarray, argmax_smile: np.ndarray) -> dict:
    threshold = best_threshold(scores[is_val], labels[is_val])
    test = ~is_val
    return {
        "threshold": threshold,
        "val_images": int(is_val.sum()),
        "test_images": int(test.sum()),
        "accuracy": float(np.mean((scores[test] >= threshold) == labels[test])),
        "chance_accuracy": chance_accuracy(labels[test]),
        "argmax_accuracy": float(np.mean(argmax_smile[test] == labels[test])),
        "roc_auc": float(roc_auc_score(labels, scores)),
    }


def frozen_features(features: np.ndarray, labels: np.ndarray, folds: int, C: float, seed: int
                    ) -> tuple[dict, np.ndarray]:
    """Cross-validated logistic regression on the features; also each image's out-of-fold P(smile)."""
    accuracy, auc, out_of_fold = [], [], np.zeros(len(labels))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(features, labels):
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=MAX_ITER))
        classifier.fit(features[train], labels[train])
        out_of_fold[test] = classifier.predict_proba(features[test])[:, 1]
        accuracy.append(np.mean((out_of_fold[test] >= 0.5) == labels[test]))
        auc.append(roc_auc_score(labels[test], out_of_fold[test]))
    return {
        "classifier": f"logistic regression on standardised features, C={C:g}",
        "features": int(features.shape[1]),
        "folds": folds,
        "accuracy_mean": float(np.mean(accuracy)),
        "accuracy_sd": float(np.std(accuracy, ddof=1)),
        "roc_auc_mean": float(np.mean(auc)),
        "roc_auc_sd": float(np.std(auc, ddof=1)),
        "chance_accuracy": chance_accuracy(labels),
        "fold_accuracy": [float(a) for a in accuracy],
    }, out_of_fold


def plot_roc(path: Path, labels: np.ndarray, scores: dict[str, np.ndarray], title: str) -> None:
    """One ROC curve per named score, with its AUC, and the chance diagonal."""
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    for name, values in scores.items():
        fpr, tpr, _ = roc_curve(labels, values)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, values):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xlabel("false positive rate (non-smiles called smiles)")
    ax.set_ylabel("true positive rate (smiles found)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=100)
