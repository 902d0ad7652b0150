"""The `svm` stage: its parameters, the choice of C/gamma on val only, the saved model, clean failures."""
from __future__ import annotations

import json
import os
import re
import subprocess
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.stage_runs import run_in_process
from support.svm_fixtures import blobs, params, write_blob_embeddings

from ferpipe.core.outputs import record_written
from ferpipe.core.errors import FerpipeError
from ferpipe.features.files import save_embeddings
from ferpipe.svm.fit import best_point, fit_final, search_grid
from ferpipe.svm.settings import SvmSettings
from ferpipe.svm.model import pairwise_scores, load_svm, make_svc, portable

OUTPUTS = ("model.skops", "svm.json", "grid.json", "confusion.json", "predictions.npz")


def run_svm_stage(tmp: Path, **svm_overrides) -> subprocess.CompletedProcess:
    (tmp / "params.yaml").write_text(yaml.safe_dump(params(**svm_overrides)))
    out = tmp / "out"
    return run_in_process("svm", ["--params", tmp / "params.yaml", "--embeddings", tmp / "emb",
                                  "--model", out / "model.skops", "--metrics", out / "svm.json",
                                  "--grid", out / "grid.json", "--confusion", out / "confusion.json",
                                  "--predictions", out / "predictions.npz"], tmp)


def settings(**overrides) -> SvmSettings:
    return SvmSettings.from_params(params(**overrides))


def noisy_memorisable_case():
    """Train: two clusters with 20% of the labels flipped; val: fresh clean draws; test: the training
    rows themselves. A moderate gamma generalises (best on val); a huge gamma memorises the training
    rows, noise included (best on test, poor on val)."""
    rng = np.random.default_rng(5)

    def draw(n):
        y = np.arange(n) % 2
        return np.array([[-2.0, 0.0], [2.0, 0.0]])[y] + rng.normal(0, 0.7, (n, 2)), y

    x, y = draw(200)
    flip = rng.random(200) < 0.2
    y[flip] = 1 - y[flip]
    val_x, val_y = draw(100)
    return x, y, val_x, val_y, x.copy(), y.copy()


@pytest.mark.parametrize("backend", ["sklearnex", "sklearn"])
def test_the_val_best_grid_point_is_chosen_not_the_test_best(backend):
    x, y, val_x, val_y, test_x, test_y = noisy_memorisable_case()
    s = settings(C=[100], gamma=[0.5, 1000], backend=backend)
    points = search_grid(x, y, val_x, val_y, s)
    chosen = best_point(points)
    test_accuracy = {g: float(np.mean(fit_final(x, y, s, 100.0, g).predict(test_x) == test_y)) for g in (0.5, 1000.0)}
    # the construction holds: the two grid points rank in opposite orders on val and on test
    assert points[0].val_accuracy > points[1].val_accuracy + 0.2
    assert test_accuracy[1000.0] > test_accuracy[0.5] + 0.1
    assert chosen.gamma == 0.5


def test_ties_keep_the_first_grid_point():
    x, y = blobs(140, 7, 8, seed=1, spread=0.5)  # far apart: both grid points score 1.0 on val, whatever the draw
    val_x, val_y = blobs(70, 7, 8, seed=2, spread=0.5)
    points = search_grid(x, y, val_x, val_y, settings(C=[10, 100]))
    assert points[0].val_accuracy == points[1].val_accuracy == 1.0
    assert best_point(points) is points[0]


@pytest.mark.parametrize("backend", ["sklearnex", "sklearn"])
def test_svm_beats_chance_by_far_on_separable_features(backend):
    x, y = blobs(350, 7, 32, seed=1, spread=2.0)
    test_x, test_y = blobs(350, 7, 32, seed=3, spread=2.0)
    model = fit_final(x, y, settings(backend=backend, pca=8), 1.0, "scale")
    assert np.mean(model.predict(test_x) == test_y) > 0.8  # chance is 1/7


@pytest.mark.parametrize("classes", [2, 3])
def test_sklearnex_svc_becomes_a_plain_sklearn_svc_that_decides_alike(classes):
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    x, y = blobs(120, classes, 6, seed=1, spread=3.0)
    rows, _ = blobs(60, classes, 6, seed=2, spread=3.0)
    fitted = Pipeline([("svc", make_svc("sklearnex", 1.0, "scale", "balanced"))]).fit(x, y)
    rows = rows.astype(np.float64)  # on float32 rows oneDAL computes in float32 (the test below)
    before = pairwise_scores(fitted[-1], rows)
    plain = portable(fitted, rows)
    assert type(plain[-1]) is SVC
    np.testing.assert_allclose(pairwise_scores(plain[-1], rows), before, rtol=1e-9, atol=1e-9)


def rows_on_pair_boundaries(model, centres: np.ndarray) -> np.ndarray:
    """Float32 rows, one per class pair, on the segment between the two centres where that pair's
    decision value crosses zero (bisected on float64 rows)."""
    rows = []
    for pair, (i, j) in enumerate(combinations(range(len(centres)), 2)):
        def score(t):
            row = (centres[i] + t * (centres[j] - centres[i]))[None].astype(np.float32).astype(np.float64)
            return np.sign(pairwise_scores(model[-1], model[:-1].transform(row))[0, pair])

        low, high = 0.0, 1.0
        if score(low) == score(high):
            continue
        for _ in range(40):
            mid = (low + high) / 2
            low, high = (mid, high) if score(mid) == score(low) else (low, mid)
        rows.append(centres[i] + low * (centres[j] - centres[i]))
    return np.array(rows, dtype=np.float32)


def test_a_float32_fit_converts_though_rounding_flips_votes_of_rows_on_a_boundary():
    # oneDAL scores float32 rows in float32: on rows where a class pair scores about zero it may vote
    # the other way than the float64 libsvm model, which is rounding, not a different model
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = blobs(1400, 7, 64, seed=1, spread=4.0)
    fitted = Pipeline([("scale", StandardScaler()), ("svc", make_svc("sklearnex", 1.0, "scale", None))]).fit(x, y)
    rows = rows_on_pair_boundaries(fitted, np.array([x[y == c].mean(0) for c in range(7)], dtype=np.float64))
    assert len(rows) >= 10
    scaled = fitted[:-1].transform(rows.astype(np.float64))
    before = pairwise_scores(fitted[-1], scaled)
    plain = portable(fitted, rows)
    assert type(plain[-1]) is SVC
    np.testing.assert_allclose(pairwise_scores(plain[-1], scaled), before, rtol=1e-6, atol=1e-6)


def off_by_one_intercept(plain):
    plain._intercept_ = plain._intercept_ + np.eye(len(plain._intercept_))[1] * 1e-3
    return plain


def test_a_conversion_that_decides_otherwise_is_refused(monkeypatch):
    from sklearn.pipeline import Pipeline

    from ferpipe.svm import model as svm_model

    convert = svm_model._plain_svc
    monkeypatch.setattr(svm_model, "_plain_svc", lambda fitted: off_by_one_intercept(convert(fitted)))
    x, y = blobs(120, 3, 6, seed=1, spread=3.0)
    fitted = Pipeline([("svc", make_svc("sklearnex", 1.0, "scale", None))]).fit(x, y)
    with pytest.raises(FerpipeError, match="did not convert to a scikit-learn SVC that decides alike"):
        portable(fitted, blobs(60, 3, 6, seed=2, spread=3.0)[0])


def test_params_are_checked():
    assert settings(C=2, gamma=["scale", 0.01]).C == (2.0,)
    for overrides, message in [
        ({"C": [1, 0]}, "svm.C must be a list of 1 to 50 numbers > 0"),
        ({"C": [-1]}, "svm.C must be a list of 1 to 50 numbers > 0"),
        ({"C": []}, "svm.C must be a list of 1 to 50 numbers > 0"),
        ({"gamma": [0]}, "svm.gamma must be a list of 1 to 50 numbers > 0 or scale or auto"),
        ({"gamma": ["wide"]}, "svm.gamma must be"),
        ({"C": [1, 1]}, "svm.C must be a list without repeated values"),
        ({"pca": 0}, "svm.pca must be null or an integer in [1, 100000]"),
        ({"class_weight": "equal"}, "svm.class_weight must be null or balanced"),
        ({"refit_on": "all"}, "svm.refit_on must be one of train, train_val"),
        ({"backend": "cuml"}, "svm.backend must be one of sklearnex, sklearn"),
        ({"kernel": "linear"}, "unknown parameter svm.kernel"),
    ]:
        with pytest.raises(FerpipeError, match=re.escape(message)):
            settings(**overrides)


@pytest.mark.parametrize("overrides", [{"backend": "sklearn"}, {"refit_on": "train_val", "pca": 4, "grid_rows": 100,
                                                                "class_weight": "balanced", "probability": True}])
def test_stage_writes_model_metrics_grid_confusion_and_predictions(tmp_path, overrides):
    write_blob_embeddings(tmp_path / "emb")
    done = run_svm_stage(tmp_path, **overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out"
    metrics = json.loads((out / "svm.json").read_text())
    assert metrics["accuracy"] > 0.8 and metrics["support_vectors"] > 0
    assert "final fit" in done.stdout and not {"grid_seconds", "fit_seconds"} & set(metrics)  # times: the log's
    assert metrics["backend"] == overrides.get("backend", "sklearnex")
    assert (metrics["fit_rows"], metrics["grid_rows"]) == ((259, 100) if "grid_rows" in overrides else (210, 210))
    grid = json.loads((out / "grid.json").read_text())
    assert [p["grid_point"] for p in grid] == ["C=1, gamma=scale", "C=10, gamma=scale"]
    best = max(grid, key=lambda p: p["val_accuracy"])
    assert (metrics["C"], metrics["gamma"], metrics["val_accuracy"]) == (best["C"], best["gamma"], best["val_accuracy"])
    assert len(json.loads((out / "confusion.json").read_text())) == 63
    with np.load(out / "predictions.npz") as pred:
        assert list(pred["ids"]) == list(range(3000, 3063))
        assert metrics["accuracy"] == pytest.approx(float(np.mean(pred["predicted"] == pred["labels"])))
        assert ("probabilities" in pred.files) == overrides.get("probability", False)
        test = np.load(tmp_path / "emb" / "test.npz")
        assert np.array_equal(load_svm(out / "model.skops").predict(test["features"]), pred["predicted"])


def test_the_stage_refits_with_scikit_learn_where_the_conversion_decides_otherwise(tmp_path, monkeypatch):
    """As on a diverged network's features (up to 1e11 on CK+), where oneDAL's kernel loses precision."""
    from ferpipe.svm import model as svm_model

    convert = svm_model._plain_svc
    monkeypatch.setattr(svm_model, "_plain_svc", lambda fitted: off_by_one_intercept(convert(fitted)))
    write_blob_embeddings(tmp_path / "emb")
    done = run_svm_stage(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "did not convert to a scikit-learn SVC that decides alike" in done.stdout
    assert "refitted with scikit-learn's SVC (libsvm)" in done.stdout
    out = tmp_path / "out"
    metrics = json.loads((out / "svm.json").read_text())
    assert metrics["backend"] == "sklearn" and metrics["accuracy"] > 0.8
    with np.load(out / "predictions.npz") as pred, np.load(tmp_path / "emb" / "test.npz") as test:
        assert np.array_equal(load_svm(out / "model.skops").predict(test["features"]), pred["predicted"])


def nan_features(folder: Path) -> str:
    x, y = blobs(210, 7, 16, seed=1)
    x[3, 2] = np.nan
    save_embeddings(folder / "train.npz", x, y, np.arange(210), [f"class{k}" for k in range(7)])
    return "train.npz: 1 feature values are NaN or infinite"


def rows_not_matching_labels(folder: Path) -> str:
    x, y = blobs(49, 7, 16, seed=2)
    save_embeddings(folder / "val.npz", x, y[:40], np.arange(49), [f"class{k}" for k in range(7)])
    return "val.npz: 49 feature rows but 40 labels and 49 ids"


def single_class_val(folder: Path) -> str:
    x, _ = blobs(49, 7, 16, seed=2)
    save_embeddings(folder / "val.npz", x, np.zeros(49, dtype=int), np.arange(49), [f"class{k}" for k in range(7)])
    return "val.npz: holds a single class (class0)"


def missing_test(folder: Path) -> str:
    (folder / "test.npz").unlink()
    return "test.npz: embeddings file not found; run the embed stage"


@pytest.mark.parametrize("spoil, overrides", [
    (nan_features, {}), (rows_not_matching_labels, {}), (single_class_val, {}), (missing_test, {}),
    (lambda folder: "svm.pca=17 is more than the 16 features per row", {"pca": 17}),
    (lambda folder: "svm.C", {"C": [1, 0]}),
    (lambda folder: "svm.gamma", {"gamma": [-0.1]}),
])
def test_bad_input_fails_cleanly_without_outputs(tmp_path, spoil, overrides):
    message = spoil(write_blob_embeddings(tmp_path / "emb"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "svm.json").write_text("{}")  # a stale output must not survive a failed run
    record_written(tmp_path / "out", ["svm.json"])  # as the earlier run that wrote it left it
    done = run_svm_stage(tmp_path, **overrides)
    assert done.returncode == 1 and message in done.stderr, done.stderr[-2000:]
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert not any((tmp_path / "out" / name).exists() for name in OUTPUTS)


def test_load_svm_refuses_a_file_with_untrusted_types(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    skops.io.dump(FunctionTransformer(os.system), tmp_path / "m.skops")
    with pytest.raises(FerpipeError, match="holds types that are not trusted: posix.system"):
        load_svm(tmp_path / "m.skops")
