"""Bad model folders, test splits and SVM files: `evaluate_softmax` and `predict --head svm` run in-process
on a tiny untrained network (conftest.py) give one `error:` line naming the file, exit 1, no output."""
from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import skops.io
import yaml
from support.tiny_model import CROP, FEATURES
from support.model_fixtures import write_svm
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from support.stage_runs import expect_error, result_of, stage_result
from support.train_fixtures import CLASSES, toy_split

from ferpipe.commands import predict as predict_command
from ferpipe.data.arrays import save_split
from ferpipe.nn.saved import INFO_FILE, MODEL_FILE

REPO = Path(__file__).resolve().parents[2]


def evaluate_outputs(tmp: Path) -> list[Path]:
    return [tmp / "softmax.json", tmp / "confusion.json", tmp / "predictions.npz"]


def evaluate(tmp: Path, model: Path, test: Path) -> tuple[int, list[str]]:
    (tmp / "params.yaml").write_text("backend: tensorflow\n")
    metrics, confusion, predictions = evaluate_outputs(tmp)
    return stage_result("evaluate_softmax", "--params", tmp / "params.yaml", "--model", model, "--test", test,
                    "--metrics", metrics, "--confusion", confusion, "--predictions", predictions)


def edit_info(**fields) -> Callable[[Path], None]:
    def damage(model: Path) -> None:
        info = json.loads((model / INFO_FILE).read_text())
        info.update(fields)
        (model / INFO_FILE).write_text(json.dumps(info))
    return damage


def drop_info_field(model: Path) -> None:
    info = json.loads((model / INFO_FILE).read_text())
    del info["feature_layer"]
    (model / INFO_FILE).write_text(json.dumps(info))


def write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda model: (model / name).write_bytes(content)


def replace_by_folder(name: str) -> Callable[[Path], None]:
    def damage(model: Path) -> None:
        (model / name).unlink()
        (model / name).mkdir()
    return damage


def _zip_of_text(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("notes.txt", "not a model")


MODEL_CASES = [
    ("fewer class names than outputs", edit_info(classes=["dark", "bright"]),
     "model.json: lists 2 classes ['dark', 'bright'], but the network in model.keras has 3 outputs"),
    ("more class names than outputs", edit_info(classes=[*CLASSES, "extra"]), "model.json: lists 4 classes"),
    ("crop size not the network's", edit_info(crop_size=48),
     f"model.json: crop_size 48, but the network in model.keras takes inputs of shape ({CROP}, {CROP}, 1)"),
    ("crop size not an integer", edit_info(crop_size="32"), "model.json: crop_size: input should be a valid integer, got '32'"),
    ("crop size a boolean", edit_info(crop_size=True), "model.json: crop_size: input should be a valid integer, got True"),
    ("config not an object", edit_info(config=5), "model.json: config: expected a JSON object, got 5"),
    ("config a string", edit_info(config="abc"), "model.json: config: expected a JSON object, got 'abc'"),
    ("one class", edit_info(classes=["dark"]), "model.json: classes: list should have at least 2 items"),
    ("crop size a fraction", edit_info(crop_size=48.9), "model.json: crop_size: input should be a valid integer, got 48.9"),
    ("crop size zero", edit_info(crop_size=0), "model.json: crop_size: input should be greater than 0, got 0"),
    ("class names a string", edit_info(classes="abc"), "model.json: classes: input should be a valid list, got 'abc'"),
    ("class names integers", edit_info(classes=[0, 1, 2]), "model.json: classes.0: input should be a valid string, got 0"),
    ("a class name twice", edit_info(classes=["dark", "dark", "bright"]),
     "model.json: classes: class names must be unique, 'dark' given twice"),
    ("an empty class name", edit_info(classes=["dark", "", "bright"]),
     "model.json: classes.1: string should have at least 1 character"),
    ("an unknown field", edit_info(epochs=3), "model.json: unknown field epochs"),
    ("a key given twice", write(INFO_FILE, b'{"crop_size": 32, "crop_size": 32}'),
     "model.json: not valid JSON (key 'crop_size' given twice in one object)"),
    ("nested 100,000 deep", write(INFO_FILE, b"[" * 100_000 + b"]" * 100_000), "model.json: nested deeper than 64 levels"),
    ("NaN", edit_info(crop_size=float("nan")), "model.json: not valid JSON (NaN is not a JSON number)"),
    ("field missing", drop_info_field, "model.json: missing field feature_layer; retrain with the train stage"),
    ("not JSON", write(INFO_FILE, b"{classes: [a, b]"), "model.json: not valid JSON"),
    ("a JSON list", write(INFO_FILE, b"[1, 2]"), "model.json: expected a JSON object, got [1, 2]"),
    ("UTF-16", lambda m: (m / INFO_FILE).write_bytes((m / INFO_FILE).read_text().encode("utf-16")),
     "model.json: the file is UTF-16-encoded"),
    ("model.json a folder", replace_by_folder(INFO_FILE), "no model.keras/model.json; run the train stage"),
    ("model.keras of zero bytes", write(MODEL_FILE, b""), "model.keras: not a Keras model file"),
    ("model.keras a text file", write(MODEL_FILE, b"weights"), "model.keras: not a Keras model file"),
    ("model.keras a zip of something else", lambda m: _zip_of_text(m / MODEL_FILE),
     "model.keras: cannot load the Keras model"),
    ("model.keras a folder", replace_by_folder(MODEL_FILE), "no model.keras/model.json; run the train stage"),
]


@pytest.mark.parametrize("damage, message", [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES])
def test_bad_model_folder(tiny, model_copy, tmp_path, damage, message):
    damage(model_copy)
    expect_error(evaluate(tmp_path, model_copy, tiny / "splits" / "test.npz"), message, evaluate_outputs(tmp_path))


def test_missing_model_folder(tiny, tmp_path):
    expect_error(evaluate(tmp_path, tmp_path / "nowhere", tiny / "splits" / "test.npz"),
                 "nowhere: no model.keras/model.json; run the train stage", evaluate_outputs(tmp_path))


def split_of(crop: int = CROP, classes: list[str] = CLASSES) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        images, labels = toy_split(9, seed=3, size=crop)
        save_split(path, images, labels, np.arange(9), classes)
    return make


SPLIT_CASES = [
    ("crops of another size", split_of(crop=48), "test.npz: crops of shape (48, 48) do not fit the model, which takes 32x32"),
    ("other class names", split_of(classes=["a", "b", "c"]), "test.npz: its classes differ from the model's"),
    ("zero bytes", lambda p: p.write_bytes(b""), "test.npz: not a readable .npz split file"),
    ("a text file", lambda p: p.write_text("images"), "test.npz: not a readable .npz split file"),
    ("one .npy array", lambda p: p.write_bytes(_npy_bytes()), "test.npz: not a readable .npz split file"),
    ("a folder", lambda p: p.mkdir(), "test.npz: is a folder, expected a split file (.npz)"),
]


def _npy_bytes() -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 32, 32), np.uint8))
    return buffer.getvalue()


@pytest.mark.parametrize("make, message", [c[1:] for c in SPLIT_CASES], ids=[c[0] for c in SPLIT_CASES])
def test_bad_test_split(tiny, tmp_path, make, message):
    make(tmp_path / "test.npz")
    expect_error(evaluate(tmp_path, tiny / "model", tmp_path / "test.npz"), message, evaluate_outputs(tmp_path))


# --- SVM files, through predict --head svm -----------------------------------------------------------

def predict_params(tmp: Path) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["runtime"]["faces"].update(workers=1, device="cpu")
    params["backend"] = "tensorflow"
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp / "params.yaml"


def predict(tmp: Path, *args) -> tuple[int, list[str]]:
    return result_of(predict_command._main, "--params", predict_params(tmp), *args)


def dump(obj) -> Callable[[Path], None]:
    return lambda path: skops.io.dump(obj, path)


def fitted(*steps):
    x = np.random.default_rng(0).normal(size=(30, FEATURES))
    return make_pipeline(*steps).fit(x, np.arange(30) % len(CLASSES))


SVM_CASES = [
    ("a dict", dump({"C": 1.0}), "svm.skops: holds a dict, not the svm stage's Pipeline ending in an SVC"),
    ("a bare SVC", dump(SVC().fit(np.eye(3), [0, 1, 2])), "svm.skops: holds a SVC, not the svm stage's Pipeline"),
    ("an unfitted pipeline", dump(make_pipeline(StandardScaler(), SVC())), "svm.skops: the SVM pipeline in it was never fitted"),
    ("a logistic regression", dump(fitted(StandardScaler(), LogisticRegression())),
     "svm.skops: holds a LogisticRegression, not the svm stage's Pipeline"),
    ("zero bytes", lambda p: p.write_bytes(b""), "svm.skops: not a skops SVM model"),
    ("a pickle", lambda p: p.write_bytes(pickle.dumps({"C": 1.0})), "svm.skops: not a skops SVM model"),
    ("a folder", lambda p: p.mkdir(), "svm.skops: SVM model not found"),
    ("other classes", lambda p: write_svm(p, False, classes=7, features=FEATURES),
     "svm.skops: fitted on class ids [0, 1, 2, 3, 4, 5, 6]"),
    ("other features", lambda p: write_svm(p, False, classes=3, features=16), "svm.skops: fitted on 16-d features"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in SVM_CASES], ids=[c[0] for c in SVM_CASES])
def test_bad_svm_file(tiny, tmp_path, make, message):
    make(tmp_path / "svm.skops")
    (tmp_path / "photo.png").write_bytes(b"")  # never read: the SVM fails first
    result = predict(tmp_path, tmp_path / "photo.png", "--model", tiny / "model", "--head", "svm",
                     "--svm", tmp_path / "svm.skops", "--out", tmp_path / "drawn")
    expect_error(result, message, [tmp_path / "drawn"])
