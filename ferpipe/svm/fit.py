"""The `svm` stage: an RBF SVM on the deep features, C and gamma chosen on val accuracy only.

Standardisation (and `svm.pca` components, if set) is fitted once on the grid's training rows;
every (C, gamma) of the grid is fitted on them and scored on val; the best val accuracy wins (ties:
the first in the grid's order, C outer, gamma inner). The chosen point is then refitted as one
scikit-learn Pipeline (scaler, PCA, SVC) on train or train+val (`svm.refit_on`) and scored once
on test.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from ferpipe.core.errors import require
from ferpipe.features.files import load_embedding_splits
from ferpipe.eval.metrics import classification_metrics, write_confusion
from ferpipe.eval.predictions import save_predictions
from ferpipe.svm.model import NotPortable, final_svc, make_svc, portable, save_svm
from ferpipe.svm.settings import CALIBRATION_FOLDS, SvmSettings

PORTABLE_CHECK_ROWS = 256  # val rows on which a converted scikit-learn-intelex SVC must decide alike


@dataclass
class GridPoint:
    C: float
    gamma: float | str
    val_accuracy: float

    @property
    def name(self) -> str:
        return f"C={self.C:g}, gamma={self.gamma if isinstance(self.gamma, str) else format(self.gamma, 'g')}"


def _preprocessing(s: SvmSettings) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if s.pca is not None:
        steps.append(("pca", PCA(n_components=s.pca, random_state=s.seed)))
    return steps


def grid_rows(y: np.ndarray, s: SvmSettings) -> np.ndarray:
    """Indices of the training rows the grid is fitted on."""
    if s.grid_rows is None or s.grid_rows >= len(y):
        return np.arange(len(y))
    return np.sort(np.random.default_rng(s.seed).choice(len(y), s.grid_rows, replace=False))


def search_grid(x: np.ndarray, y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, s: SvmSettings) -> list[GridPoint]:
    """Val accuracy of every (C, gamma), each fitted on (x, y)."""
    prep = Pipeline(_preprocessing(s)).fit(x)
    fit_x, score_x = prep.transform(x), prep.transform(val_x)
    points = []
    for C, gamma in tqdm(list(product(s.C, s.gamma)), desc="svm grid", unit="fit"):
        svc = make_svc(s.backend, C, gamma, s.class_weight).fit(fit_x, y)
        points.append(GridPoint(C, gamma, float(np.mean(svc.predict(score_x) == val_y))))
    return points


def best_point(points: list[GridPoint]) -> GridPoint:
    return max(points, key=lambda p: p.val_accuracy)  # max keeps the first of equals


def fit_final(x: np.ndarray, y: np.ndarray, s: SvmSettings, C: float, gamma: float | str) -> Pipeline:
    svc = make_svc(s.backend, C, gamma, s.class_weight)
    if s.probability:
        # scikit-learn 1.9's replacement for SVC(probability=True): Platt scaling on 5-fold decision values
        svc = CalibratedClassifierCV(svc, method="sigmoid", cv=CALIBRATION_FOLDS, ensemble=False)
    return Pipeline(_preprocessing(s) + [("svc", svc)]).fit(x, y)


def _check_inputs(splits: dict[str, dict[str, np.ndarray]], rows: np.ndarray, s: SvmSettings, folder: Path) -> None:
    train, classes = splits["train"], [str(c) for c in splits["train"]["classes"]]
    for name in ("train", "val"):
        present = np.unique(splits[name]["labels"])
        require(len(present) >= 2, f"{folder / f'{name}.npz'}: holds a single class "
                                   f"({classes[present[0]]}); C and gamma need at least two to be chosen")
    require(len(np.unique(train["labels"][rows])) >= 2,
            f"svm.grid_rows={s.grid_rows}: the sampled training rows hold a single class")
    if s.pca is not None:
        features = train["features"].shape[1]
        require(s.pca <= features, f"svm.pca={s.pca} is more than the {features} features per row of {folder / 'train.npz'}")
        require(s.pca <= len(rows), f"svm.pca={s.pca} is more than the {len(rows)} rows the SVM is fitted on")
    if s.probability:
        fewest = int(np.unique(train["labels"], return_counts=True)[1].min())
        require(fewest >= CALIBRATION_FOLDS, f"svm.probability=true: calibration needs at least {CALIBRATION_FOLDS} "
                                             f"training rows of each class, {folder / 'train.npz'} has {fewest}")


def run_svm(embeddings: Path, s: SvmSettings, model_path: Path, metrics_path: Path, grid_path: Path,
            confusion_path: Path, predictions_path: Path) -> dict:
    splits = load_embedding_splits(embeddings)
    train, val, test = splits["train"], splits["val"], splits["test"]
    classes = [str(c) for c in train["classes"]]
    rows = grid_rows(train["labels"], s)
    _check_inputs(splits, rows, s, embeddings)

    started = time.perf_counter()
    points = search_grid(train["features"][rows], train["labels"][rows], val["features"], val["labels"], s)
    grid_seconds = time.perf_counter() - started
    best = best_point(points)

    fit_x, fit_y = train["features"], train["labels"]
    if s.refit_on == "train_val":
        fit_x, fit_y = np.concatenate([fit_x, val["features"]]), np.concatenate([fit_y, val["labels"]])
    started = time.perf_counter()
    # In float64: oneDAL computes in its input's precision, libsvm (the saved SVC, `portable`) in float64.
    fit_x = fit_x.astype(np.float64)
    model = fit_final(fit_x, fit_y, s, best.C, best.gamma)
    fit_seconds = time.perf_counter() - started
    # Predicted before `portable`, as scikit-learn-intelex predicts faster; on float64 rows, as the saved
    # model computes, so that its predictions are these to the last near-tie.
    test_x = test["features"].astype(np.float64)
    predicted = model.predict(test_x)
    probabilities = model.predict_proba(test_x) if s.probability else None
    backend = s.backend
    try:
        model = portable(model, val["features"][:PORTABLE_CHECK_ROWS])
    except NotPortable as exc:
        # The network's features broke oneDAL's kernel (a diverged network's reach 1e11): libsvm fits them.
        print(f"svm: {exc}; refitted with scikit-learn's SVC (libsvm)")
        backend = "sklearn"
        model = fit_final(fit_x, fit_y, s.model_copy(update={"backend": backend}), best.C, best.gamma)
        predicted = model.predict(test_x)
        probabilities = model.predict_proba(test_x) if s.probability else None
    save_svm(model, model_path)
    svc = final_svc(model)
    metrics = {
        "backend": backend, "C": best.C, "gamma": best.gamma, "gamma_value": float(svc._gamma),
        "val_accuracy": best.val_accuracy, "refit_on": s.refit_on, "pca": s.pca, "class_weight": s.class_weight,
        "features": int(train["features"].shape[1]), "grid_points": len(points), "grid_rows": int(len(rows)),
        "fit_rows": int(len(fit_y)), "support_vectors": int(svc.n_support_.sum()),
        **classification_metrics(test["labels"], predicted, classes),
    }
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    grid_path.write_text(json.dumps([{"grid_point": p.name, "C": p.C, "gamma": p.gamma,
                                      "val_accuracy": p.val_accuracy} for p in points], indent=2) + "\n")
    write_confusion(confusion_path, test["labels"], predicted, classes)
    save_predictions(predictions_path, predicted, test["labels"], test["ids"], classes, probabilities)
    # The wall-clock times are the caller's to print, not in the metrics file: its bytes depend on the inputs only.
    return {**metrics, "grid_seconds": grid_seconds, "fit_seconds": fit_seconds}
