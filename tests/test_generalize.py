"""The `generalize` stage: the demo target end to end, a GENKI-4K-layout fixture through the loader
and the stage, its clean failures, and the measures it reports."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.builders import assert_failed_cleanly, plant_stale, write_genki
from support.model_fixtures import base_params, run_stage, write_svm

from ferpipe.apply.settings import DemoTarget, GeneralizeSettings
from ferpipe.apply.target import demo_records
from ferpipe.apply.smile_metrics import best_threshold, frozen_features, zero_shot
from ferpipe.core.errors import FerpipeError
from ferpipe.data.sources.demo_faces import DEMO_CLASSES

GENERALIZE = {"target": "demo", "demo": {"seed": 1, "per_class": 60, "size": 80}, "val_fraction": 0.3, "folds": 3,
              "C": 1.0, "seed": 0}


def generalize_params(**overrides) -> dict:
    return {**GENERALIZE, **overrides}


@pytest.fixture(scope="module")
def trained(demo_lenet, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generalize")
    (folder / "model").symlink_to(demo_lenet / "model")
    write_svm(folder / "svm.skops", probability=False)
    return folder


def outputs(folder: Path) -> list[Path]:
    return [folder / "generalize.json", folder / "generalize_roc.png"]


def generalize(folder: Path, model: Path, svm: str = "", **blocks):
    """Run the stage in `folder` with the default params, the test's generalize block, and `blocks` on top."""
    params = base_params(**{"generalize": generalize_params(), **blocks})
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    metrics, plot = outputs(folder)
    return run_stage("generalize", folder, "--model", model, "--svm", svm, "--metrics", metrics, "--plot", plot)


@pytest.mark.slow
def test_demo_target_end_to_end(trained, tmp_path):
    done = generalize(tmp_path, trained / "model", str(trained / "svm.skops"))
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "generalize.json").read_text())
    assert metrics["target"] == "demo" and metrics["images"] == 120 and metrics["smile"] == 60
    assert metrics["faces"]["images"] == 120 and metrics["faces"]["detection_rate"] > 0.8
    for head in ("softmax", "svm"):
        zero = metrics["zero_shot"][head]
        assert 0 <= zero["roc_auc"] <= 1 and 0 <= zero["accuracy"] <= 1
        assert zero["val_images"] == 36 and zero["test_images"] == 84
    assert metrics["zero_shot"]["svm"]["probabilities"] == "svm_decision_softmax"
    frozen = metrics["frozen_features"]
    assert frozen["features"] == 500 and frozen["folds"] == 3 and len(frozen["fold_accuracy"]) == 3
    # A linear read-out of even this briefly trained LeNet finds the smile (0.72 and 0.80 measured on this
    # target with two such LeNets); without a signal, 3-fold accuracy on 120 images stays about 0.5 +/- 0.05.
    assert frozen["chance_accuracy"] == 0.5 and frozen["accuracy_mean"] >= 0.65 and frozen["roc_auc_mean"] >= 0.7
    assert (tmp_path / "generalize_roc.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_genki4k_layout_runs_through_the_loader_and_the_stage(trained, tmp_path):
    genki = write_genki(tmp_path / "GENKI-4K", n=24)
    done = generalize(tmp_path, trained / "model", sources={"genki4k": str(genki)},
                      generalize=generalize_params(target="genki4k"))
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "generalize.json").read_text())
    assert metrics["target"] == "genki4k" and metrics["images"] == 24 and metrics["smile"] == 12
    assert metrics["faces"]["images"] == 24  # noise photos: no face, the whole frame kept (faces.no_face: keep)
    assert list(metrics["zero_shot"]) == ["softmax"] and 0 <= metrics["zero_shot"]["softmax"]["roc_auc"] <= 1


def test_genki4k_not_configured_names_the_param(tmp_path, monkeypatch):
    monkeypatch.delenv("FERPIPE_SOURCE_GENKI4K", raising=False)
    plant_stale(outputs(tmp_path))
    done = generalize(tmp_path, model_info_only(tmp_path, DEMO_CLASSES, 48),
                      generalize=generalize_params(target="genki4k"))
    assert_failed_cleanly(done, "sources.genki4k is not set", outputs(tmp_path))


def model_info_only(folder: Path, classes: list[str], crop_size: int) -> Path:
    """A model folder whose model.json says `classes` and `crop_size` (its model.keras is empty): enough
    for the checks made before any model is loaded."""
    model = folder / "model"
    model.mkdir()
    (model / "model.keras").write_bytes(b"")
    (model / "model.json").write_text(json.dumps({"classes": classes, "crop_size": crop_size,
                                                  "feature_layer": "features", "config": {}, "precision": "float32"}))
    return model


def test_model_without_happy_fails_cleanly(tmp_path):
    plant_stale(outputs(tmp_path))
    done = generalize(tmp_path, model_info_only(tmp_path, ["non_smile", "smile"], 48))
    assert_failed_cleanly(done, "have no 'happy'", outputs(tmp_path))


def test_model_taking_other_crops_fails_before_cropping(tmp_path):
    plant_stale(outputs(tmp_path))
    done = generalize(tmp_path, model_info_only(tmp_path, ["happy", "sad"], 32))
    assert_failed_cleanly(done, "faces.size = 48: the target would be cropped to 48x48, the model in", outputs(tmp_path))
    assert "faces (" not in done.stderr  # no photo was cropped


@pytest.mark.slow  # MTCNN crops the target before the check
def test_a_test_part_without_both_classes_fails_cleanly(tmp_path):
    plant_stale(outputs(tmp_path))
    done = generalize(tmp_path, model_info_only(tmp_path, DEMO_CLASSES, 48), generalize=generalize_params(
        val_fraction=0.9, folds=2, demo={"seed": 1, "per_class": 4, "size": 80}))
    assert_failed_cleanly(done, "the test part of the demo target holds 0 face crops, not both", outputs(tmp_path))


@pytest.mark.parametrize("overrides, message", [
    ({"target": "fer2013"}, "generalize.target must be one of demo, genki4k"),
    ({"folds": 1}, "generalize.folds must be an integer in [2, 100]"),
    ({"val_fraction": 1.0}, "generalize.val_fraction must be a number in (0, 1)"),
    ({"fold": 3}, "unknown parameter generalize.fold (did you mean generalize.folds"),
    ({"demo": {"seed": 1, "per_class": 30}}, "missing parameter generalize.demo.size"),
])
def test_params_are_checked(overrides, message):
    with pytest.raises(FerpipeError, match=re.escape(message)):
        GeneralizeSettings.from_params({"generalize": generalize_params(**overrides)})


def test_demo_target_is_balanced_seeded_and_new():
    records = demo_records(DemoTarget(seed=1, per_class=12, size=64))
    labels = [r.label for r in records]
    assert labels.count(1) == 12 and labels.count(0) == 12
    non_smiles = [r.origin.split("(")[1].rstrip(")") for r in records if r.label == 0]
    assert sorted(set(non_smiles)) == ["angry", "disgust", "fear", "neutral", "sad", "surprise"]
    assert all(non_smiles.count(c) == 2 for c in set(non_smiles))
    image = records[0].image
    assert image.shape == (round(1.3 * 64), round(1.6 * 64), 3)  # the wider canvas
    again = demo_records(DemoTarget(seed=1, per_class=12, size=64))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(records, again))
    other = demo_records(DemoTarget(seed=2, per_class=12, size=64))
    assert not np.array_equal(records[0].image, other[0].image)


def test_threshold_is_chosen_on_val_and_scored_on_the_rest():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.35, 0.9])
    labels = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    is_val = np.array([True] * 6 + [False] * 2)
    assert best_threshold(scores[is_val], labels[is_val]) == pytest.approx(0.25)
    result = zero_shot(scores, labels, is_val, argmax_smile=scores > 0.5)
    assert result["accuracy"] == 0.0 and result["test_images"] == 2  # both test images fall on the wrong side
    assert result["argmax_accuracy"] == 0.5 and 0 <= result["roc_auc"] <= 1


def test_frozen_features_find_a_linear_signal_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.arange(120) % 2
    noise = rng.normal(size=(120, 30))
    signal = noise + 3.0 * labels[:, None] * (np.arange(30) < 3)  # 0.97-1.0 over eight draws; noise 0.40-0.58
    found, out_of_fold = frozen_features(signal, labels, folds=4, C=1.0, seed=0)
    assert found["accuracy_mean"] > 0.85 and found["roc_auc_mean"] > 0.9 and out_of_fold.shape == (120,)
    chance, _ = frozen_features(noise, labels, folds=4, C=1.0, seed=0)
    assert chance["accuracy_mean"] < 0.7 and found["accuracy_sd"] >= 0
