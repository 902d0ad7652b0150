"""`predict` on the export stage's files (the onnx engine): the same faces, classes and probabilities
as the Keras engine, both heads, no Keras, TensorFlow or scikit-learn in the process, and a missing,
changed or foreign export refused with one error line."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.model_fixtures import astronaut_photos
from support.stage_runs import python_child, run_main

from ferpipe import __main__ as ferpipe_command
from ferpipe.core.sha256 import sha256_of
from ferpipe.export.card import CARD_FILE

TRAINING_STACK = ("tensorflow", "keras", "sklearn", "scipy", "tf2onnx", "skl2onnx", "skops")


@pytest.fixture(scope="module")
def work(demo_export, tmp_path_factory) -> Path:
    """params.yaml, model/ and svm.skops (the Keras engine's), data/export/ and the two astronaut photos."""
    folder = tmp_path_factory.mktemp("predict_onnx")
    made = demo_export.parent
    shutil.copy(made / "params.yaml", folder)
    (folder / "model").symlink_to(made / "model")
    (folder / "svm.skops").symlink_to(made / "svm.skops")
    shutil.copytree(demo_export, folder / "data" / "export")
    astronaut_photos(folder / "photos")
    return folder


def run(work: Path, *args):
    return run_main(ferpipe_command.main, ["predict", *args], work)


def faces_of(work: Path, *args) -> list[dict]:
    done = run(work, "--json", "photos", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return [face for photo in json.loads(done.stdout)["photos"] for face in photo["faces"]]


@pytest.mark.slow
@pytest.mark.parametrize("head", ["softmax", "svm"])
def test_onnx_engine_finds_and_classifies_as_the_keras_engine(work, head):
    onnx = faces_of(work, "--head", head)  # the default engine: data/export/ exists
    keras = faces_of(work, "--head", head, "--engine", "keras", "--model", "model", "--svm", "svm.skops")
    assert len(onnx) == len(keras) == 3  # one face in astronaut.jpg, two in two_faces.png
    for a, b in zip(onnx, keras):
        assert a["box"] == b["box"] and a["predicted"] == b["predicted"]
        assert np.abs(np.subtract(list(a["probabilities"].values()), list(b["probabilities"].values()))).max() <= 1e-4


@pytest.mark.slow
def test_onnx_engine_loads_no_training_stack(work):
    script = ("import sys\nfrom ferpipe.commands.predict import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
              f"    print('loaded:', sorted({{m.split('.')[0] for m in sys.modules}} & set({TRAINING_STACK!r})), "
              "file=sys.stderr)")
    done = python_child(["-c", script, "photos/astronaut.jpg", "--head", "svm"], work)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "model data/export, head svm" in done.stdout and "1 face" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "loaded: []"


def changed_byte(export: Path) -> None:
    data = bytearray((export / "network.onnx").read_bytes())
    data[len(data) // 2] ^= 1
    (export / "network.onnx").write_bytes(bytes(data))


def foreign_network(export: Path) -> None:
    """network.onnx replaced by another ONNX model (the SVM), its hash put in the card."""
    shutil.copy(export / "svm.onnx", export / "network.onnx")
    card = json.loads((export / CARD_FILE).read_text())
    card["network"]["sha256"] = sha256_of(export / "network.onnx")
    (export / CARD_FILE).write_text(json.dumps(card))


@pytest.mark.slow
@pytest.mark.parametrize("spoil, head, message", [
    (changed_byte, "softmax", "network.onnx: its sha256 is not the one in model_card.json"),
    (lambda e: (e / "svm.onnx").unlink(), "svm", "svm.onnx: missing (model_card.json lists it)"),
    (lambda e: (e / CARD_FILE).unlink(), "softmax", "no model_card.json; run the export stage"),
    (lambda e: (e / CARD_FILE).write_text("{"), "softmax", "model_card.json: not valid JSON"),
    (foreign_network, "softmax", "network.onnx: an ONNX model of another network"),
])
def test_a_missing_changed_or_foreign_export_is_one_error(work, tmp_path, spoil, head, message):
    shutil.copytree(work / "data" / "export", tmp_path / "export")
    spoil(tmp_path / "export")
    done = run(work, "photos/astronaut.jpg", "--export", tmp_path / "export", "--head", head)
    assert done.returncode == 1 and message in done.stderr, done.stderr[-2000:]
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_engine_onnx_without_an_export_is_one_error(work, tmp_path):
    done = run(work, "photos/astronaut.jpg", "--engine", "onnx", "--export", tmp_path / "none")
    assert done.returncode == 1 and "none: no model_card.json; run the export stage" in done.stderr


@pytest.mark.slow
def test_a_keras_model_or_svm_given_runs_the_keras_engine_even_beside_an_export(work):
    done = run(work, "photos/astronaut.jpg", "--model", "model", "--verbose")
    assert done.returncode == 0 and "and the model in model" in done.stderr  # start-up line of the keras engine
    done = run(work, "photos/astronaut.jpg", "--engine", "onnx", "--svm", "svm.skops")
    assert done.returncode == 1 and "--model and --svm are the keras engine's" in done.stderr
