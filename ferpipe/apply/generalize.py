"""The `generalize` stage: the trained model on a smile / non-smile target it never saw (GENKI-4K,
or the synthetic demo target), cropped with the pipeline's `faces:` settings.

Zero-shot, P(smile) = P(happy) of the softmax head and of the SVM (Platt probabilities, or the
softmax of its decision values where it has none); frozen features, a cross-validated logistic
regression on the network's features of the target (`ferpipe.apply.smile_metrics`).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferpipe.apply.settings import GeneralizeSettings, Genki4kSource
from ferpipe.apply.target import SMILE_EXPRESSION, TARGET_CLASSES, load_target
from ferpipe.core.errors import require
from ferpipe.data.dataset import Dataset, write_dataset
from ferpipe.faces.settings import FaceRuntime, FaceSettings
from ferpipe.nn.saved import ModelInfo

IMAGES_PER_WORKER = 500


def smile_column(info: ModelInfo, model_dir: Path) -> int:
    require(SMILE_EXPRESSION in info.classes,
            f"{model_dir}: the model's classes {info.classes} have no {SMILE_EXPRESSION!r}, which the zero-shot "
            f"smile test reads as P(smile); generalize needs a model trained on expressions (demo, fer2013, ckplus)")
    return info.classes.index(SMILE_EXPRESSION)


@dataclass
class TargetCrops:
    images: np.ndarray  # (N, S, S) uint8 face crops
    labels: np.ndarray  # 1 smile, 0 not
    is_val: np.ndarray  # bool: in the part where the zero-shot threshold is chosen
    detection: dict  # the faces stage's counts for the whole target


def crop_target(records, s: GeneralizeSettings, faces: FaceSettings, runtime: FaceRuntime) -> TargetCrops:
    """Every target photo cropped exactly as the faces stage crops a dataset (no-face policy included)."""
    from ferpipe.faces.crop import crop_dataset  # torch and MTCNN: loaded once the params and model are checked
    from ferpipe.faces.detector import FaceDetector
    from ferpipe.faces.summary import detection_report

    # Each MTCNN worker process starts by importing torch, which takes seconds: a pool pays only on large
    # targets, and the worker count never changes a crop.
    workers = max(1, min(runtime.workers, len(records) // IMAGES_PER_WORKER))
    with tempfile.TemporaryDirectory(prefix="ferpipe-generalize-") as tmp:
        folder = Path(tmp) / "target"
        write_dataset(folder, s.target, TARGET_CLASSES, records)
        parts = crop_dataset(Dataset(folder), faces, FaceDetector(faces, runtime.model_copy(update={"workers": workers})))
    val, test = parts["val"], parts["test"]
    labels = np.concatenate([val.labels, test.labels])
    for part, name in ((val.labels, "val part"), (test.labels, "test part")):
        require(len(np.unique(part)) == 2, f"generalize: the {name} of the {s.target} target holds "
                                           f"{len(part)} face crops, not both smiles and non-smiles; use a larger target")
    fewest = int(np.bincount(labels, minlength=2).min())
    require(s.folds <= fewest, f"generalize.folds = {s.folds} is more than the {fewest} crops of the smaller class "
                               f"of the {s.target} target")
    return TargetCrops(np.concatenate([val.images, test.images]), labels,
                       np.arange(len(labels)) < len(val.labels), detection_report(parts)["all"])


def _rounded(values: dict) -> dict:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


def measure(target: TargetCrops, model_dir: Path, svm_path: Path | None, s: GeneralizeSettings, plot_path: Path
            ) -> dict:
    """Zero-shot and frozen-feature measures; keras must already run on the chosen backend."""
    from ferpipe.apply.keras_classifier import KerasClassifier
    from ferpipe.apply.smile_metrics import frozen_features, plot_roc, zero_shot
    from ferpipe.probabilities.svm import svm_probabilities, svm_probability_method

    classifier = KerasClassifier(model_dir, svm_path)
    column = smile_column(classifier.info, model_dir)
    classifier.info.check_crops(target.images, f"faces.size of the {s.target} target crops")
    features = classifier.features(target.images)
    probabilities = {"softmax": (classifier.softmax(target.images), "softmax")}
    if classifier.svm is not None:
        probabilities["svm"] = (svm_probabilities(classifier.svm, features), svm_probability_method(classifier.svm))
    zero = {}
    for head, (p, method) in probabilities.items():
        zero[head] = {"score": f"P({SMILE_EXPRESSION})", "probabilities": method,
                      **_rounded(zero_shot(p[:, column], target.labels, target.is_val, p.argmax(axis=1) == column))}
    frozen, out_of_fold = frozen_features(features, target.labels, s.folds, s.C, s.seed)
    curves = {f"zero-shot {head}": p[:, column] for head, (p, _) in probabilities.items()}
    curves["frozen features (out-of-fold)"] = out_of_fold
    plot_roc(plot_path, target.labels, curves, f"smile vs non-smile on the {s.target} target ({len(target.labels)} faces)")
    return {"zero_shot": zero, "frozen_features": _rounded(frozen)}


def run_generalize(params: dict, params_file: str, model_dir: Path, svm_path: Path | None, backend: str,
                   metrics_path: Path, plot_path: Path) -> dict:
    from ferpipe.nn.backend import select_backend
    from ferpipe.nn.saved import read_model_info

    s = GeneralizeSettings.from_params(params, params_file)
    faces, runtime = FaceSettings.from_params(params, params_file), FaceRuntime.from_params(params, params_file)
    Genki4kSource.from_params(params, params_file)  # checked whichever the target, like every key the stage declares
    info = read_model_info(model_dir)  # fail before any work
    smile_column(info, model_dir)
    require(info.crop_size == faces.size, f"faces.size = {faces.size}: the target would be cropped to "
                                          f"{faces.size}x{faces.size}, the model in {model_dir} takes {info.crop_size}x"
                                          f"{info.crop_size} crops (model.json crop_size)")
    target = crop_target(load_target(s.target, s.demo, params, params_file, s.val_fraction, s.seed), s, faces, runtime)
    select_backend(backend)  # after MTCNN: torch must be loaded before TensorFlow
    measured = measure(target, model_dir, svm_path, s, plot_path)
    n_smile = int(target.labels.sum())
    metrics = {
        "target": s.target,
        "images": len(target.labels),
        "smile": n_smile,
        "non_smile": len(target.labels) - n_smile,
        "faces": target.detection,
        "smile_class": SMILE_EXPRESSION,
        **measured,
    }
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
