"""The RBF SVC itself: built on scikit-learn or scikit-learn-intelex, saved with skops.

scikit-learn-intelex (`sklearnex`) fits the same libsvm-style RBF SVC with oneDAL, several times
faster on x86-64 CPUs (benchmarks/results/svm_speed_*.txt), behind scikit-learn's API. skops
cannot save its oneDAL object, so a fitted `sklearnex` SVC is turned into the plain scikit-learn
`SVC` that holds the same support vectors and coefficients (`portable`), checked to decide alike,
before saving. The saved file then holds scikit-learn and numpy types only, and `load_svm` loads
it with skops' default trusted types plus the two named calibration types (`svm.probability`):
no pickle, no arbitrary code.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted
from sklearn.exceptions import NotFittedError

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.fixed_zip import number_in_order, write_fixed_zip

CACHE_MB = 1000  # kernel cache of each fit: speed only (scikit-learn's default of 200 MB slows large fits)
# Private scikit-learn types of a probability-calibrated SVC, which skops does not trust by default.
CALIBRATION_TYPES = ("sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration")
# Fitted state copied from a scikit-learn-intelex SVC as it is.
SCHEMA = "schema.json"  # skops' description of the objects, which names the array files
_SHARED_STATE = ("_gamma", "_sparse", "shape_fit_", "classes_", "class_weight_", "n_features_in_", "fit_status_")


def make_svc(backend: str, C: float, gamma: float | str, class_weight: str | None) -> SVC:
    if backend == "sklearnex":
        try:
            from sklearnex.svm import SVC as OneDalSVC
        except ImportError as exc:
            raise FerpipeError("svm.backend=sklearnex: scikit-learn-intelex is not installed "
                               "(pip install -r requirements.txt), or use -S svm.backend=sklearn") from exc
        return OneDalSVC(kernel="rbf", C=C, gamma=gamma, class_weight=class_weight, cache_size=CACHE_MB)
    return SVC(kernel="rbf", C=C, gamma=gamma, class_weight=class_weight, cache_size=CACHE_MB)


def _plain_svc(fitted: SVC) -> SVC:
    """A scikit-learn SVC with the fitted state of `fitted` (a scikit-learn-intelex SVC)."""
    if type(fitted) is SVC:
        return fitted
    plain = SVC(**{k: v for k, v in fitted.get_params().items() if k in SVC().get_params()})
    for name in _SHARED_STATE:
        setattr(plain, name, getattr(fitted, name))
    plain.support_ = np.asarray(fitted.support_, dtype=np.int32)
    plain._n_support = np.asarray(fitted._n_support, dtype=np.int32)
    plain.n_iter_ = plain._num_iter = np.asarray(fitted.n_iter_, dtype=np.int32)
    plain.support_vectors_ = np.ascontiguousarray(fitted.support_vectors_, dtype=np.float64)
    plain.dual_coef_ = np.ascontiguousarray(fitted.dual_coef_, dtype=np.float64)
    plain.intercept_ = np.asarray(fitted.intercept_, dtype=np.float64)
    # libsvm's own signs, as scikit-learn's fit keeps them: flipped for two classes.
    sign = -1.0 if len(fitted.classes_) == 2 else 1.0
    plain._dual_coef_ = np.ascontiguousarray(sign * plain.dual_coef_)
    plain._intercept_ = sign * plain.intercept_
    plain._probA = plain._probB = np.empty(0)
    plain._effective_probability = False
    return plain


class NotPortable(FerpipeError):
    """scikit-learn-intelex's fitted SVC and its scikit-learn copy decide differently."""


def final_svc(model: Pipeline) -> SVC:
    """The SVC of a fitted pipeline, also inside a probability calibration."""
    last = model.steps[-1][1]
    return last.calibrated_classifiers_[0].estimator if isinstance(last, CalibratedClassifierCV) else last


def portable(model: Pipeline, check_rows: np.ndarray) -> Pipeline:
    """`model` with a plain scikit-learn SVC, which must decide `check_rows` as the original does."""
    fitted = final_svc(model)
    plain = _plain_svc(fitted)
    if plain is fitted:
        return model
    # oneDAL computes in its input's precision (float32 embeddings: float32 sums over thousands of support
    # vectors) and libsvm in float64, so the two are compared on float64 rows, pair by pair: the default
    # one-vs-rest scores count votes, which a pair scored near zero flips by rounding alone.
    rows, preprocessing = np.asarray(check_rows, dtype=np.float64), model[:-1]
    rows = preprocessing.transform(rows) if len(preprocessing) else rows
    before, after = pairwise_scores(fitted, rows), pairwise_scores(plain, rows)
    if not np.allclose(before, after, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(before).max(initial=0.0)))):
        worst = float(np.abs(before - after).max())
        raise NotPortable(f"svm.backend=sklearnex: the fitted SVC did not convert to a scikit-learn SVC that "
                          f"decides alike (one-vs-one values up to {worst:.3g} apart; oneDAL's kernel loses precision "
                          f"on features of very large magnitude, or a scikit-learn-intelex version change)")
    last = model.steps[-1][1]
    if isinstance(last, CalibratedClassifierCV):
        last.calibrated_classifiers_[0].estimator = plain
        last.estimator = SVC(**plain.get_params())  # the unfitted template, a scikit-learn type too
    else:
        model.steps[-1] = (model.steps[-1][0], plain)
    return model


def pairwise_scores(svc: SVC, rows: np.ndarray) -> np.ndarray:
    """The one-vs-one decision values of `svc` on already preprocessed rows."""
    shape = svc.decision_function_shape
    svc.decision_function_shape = "ovo"
    try:
        return svc.decision_function(rows)
    finally:
        svc.decision_function_shape = shape


def save_svm(model: Pipeline, path: Path) -> None:
    """skops' file with the same bytes for the same model (DVC hashes it).

    skops names each array's file in its zip after the array's memory address (`id()`), or a random
    uuid, records every object's `id()` in schema.json (to rebuild shared objects once), and dates the
    entries; here the ids and file names are numbered in the order schema.json first gives them, and
    the zip is written with fixed dates (`write_fixed_zip`)."""
    import skops.io

    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(model))) as src:
        schema, files = json.loads(src.read(SCHEMA)), {name: src.read(name) for name in src.namelist()}
    renamed: dict[object, object] = {}
    _number_ids(schema, renamed, files)
    write_fixed_zip(path, [(SCHEMA, json.dumps(schema, indent=2).encode()),
                           *sorted((renamed[name], files[name]) for name in files if name != SCHEMA)])


def _number_ids(schema: dict, renamed: dict, files: dict[str, bytes]) -> None:
    """Replace, in place, every `__id__` of a skops schema by its number in order of first appearance, and
    every `file` naming a zip entry by `<number><suffix>`; `renamed` maps old to new."""
    def number(key: str, value):
        if key == "__id__" and isinstance(value, int):
            return renamed.setdefault(("id", value), len(renamed))
        if key == "file" and isinstance(value, str) and value in files:
            return renamed.setdefault(value, f"{len(renamed)}{Path(value).suffix}")
        return None

    number_in_order(schema, number)


def load_svm(path: str | Path) -> Pipeline:
    """Load a saved SVM pipeline trusting skops' defaults and CALIBRATION_TYPES only (no arbitrary code runs)."""
    import skops.io

    path = Path(path)
    require(path.is_file(), f"{path}: SVM model not found; run the svm stage")
    try:
        untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in CALIBRATION_TYPES]
        require(not untrusted, f"{path}: holds types that are not trusted: {', '.join(untrusted)}")
        model = skops.io.load(path, trusted=list(CALIBRATION_TYPES))
    except FerpipeError:
        raise
    except Exception as exc:  # skops raises many types for a broken or foreign file
        raise FerpipeError(f"{path}: not a skops SVM model ({type(exc).__name__}: {exc})") from exc
    _check_fitted_pipeline(model, path)
    return model


def _check_fitted_pipeline(model, path: Path) -> None:
    """What the svm stage saves: a scikit-learn Pipeline ending in a fitted SVC (or its calibration)."""
    last = model.steps[-1][1] if isinstance(model, Pipeline) and model.steps else None
    if not isinstance(last, (SVC, CalibratedClassifierCV)):
        what = type(last if last is not None else model).__name__
        raise FerpipeError(f"{path}: holds a {what}, not the svm stage's Pipeline ending in an SVC; rerun the svm stage")
    try:
        check_is_fitted(model)
        fitted = hasattr(final_svc(model), "support_vectors_")
    except (NotFittedError, AttributeError, IndexError):
        fitted = False
    require(fitted, f"{path}: the SVM pipeline in it was never fitted; rerun the svm stage")
