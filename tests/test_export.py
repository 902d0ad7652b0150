"""The `export` stage: ONNX files that ONNX Runtime runs as the Keras model and the skops SVM decide,
on both Keras backends (torch in a child process: this process's Keras runs on TensorFlow), the model
card and its hashes, and clean failures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import yaml
from support.model_fixtures import EXPORT_ARGS, write_svm
from support.stage_runs import expect_error, run_in_child, stage_result
from support.svm_fixtures import blobs

from ferpipe.eval.predictions import load_predictions
from ferpipe.core.sha256 import sha256_of
from ferpipe.export.card import CARD_FILE
from ferpipe.export.svm import export_svm
from ferpipe.features.files import load_embeddings
from ferpipe.probabilities.svm import svm_probabilities, svm_probabilities_of_scores, svm_probability_method
from ferpipe.svm.model import load_svm

TOLERANCE = 1e-4


def session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def check_export(folder: Path, export: Path, reference: Path, backend: str) -> None:
    """export/ against the Keras model's test predictions in `reference` and the skops SVM."""
    card = json.loads((export / CARD_FILE).read_text())
    assert card["network"]["exported_on"] == backend and card["classes"] == list(load_predictions(reference)["classes"])
    assert card["parity"]["argmax_agrees"] and card["parity"]["svm_labels_agree"]
    assert max(card["parity"]["max_probability_difference"], card["parity"]["max_svm_probability_difference"]) <= TOLERANCE
    for part in ("network", "svm"):
        assert sha256_of(export / card[part]["file"]) == card[part]["sha256"]
    assert card["dataset"]["content_hash"] == json.loads((folder / "data.json").read_text())["content_hash"]
    assert card["test_accuracy"]["svm"] == json.loads((folder / "svm.json").read_text())["accuracy"]

    crops = np.load(folder / "augmented" / "test.npz")["images"]
    probabilities, features = session(export / "network.onnx").run(
        ["probabilities", "features"], {"crops": crops.astype(np.float32)[..., None]})
    keras = load_predictions(reference)
    assert np.abs(probabilities - keras["probabilities"]).max() <= TOLERANCE
    assert np.array_equal(probabilities.argmax(1), keras["predicted"])

    test = load_embeddings(folder / "embeddings" / "test.npz")
    assert np.abs(features - test["features"]).max() <= 1e-3 * np.abs(test["features"]).max()
    labels = session(export / "svm.onnx").run(["label"], {"features": test["features"].astype(np.float64)})[0]
    assert np.array_equal(labels, load_svm(folder / "svm.skops").predict(test["features"]))
    assert np.array_equal(labels, load_predictions(folder / "svm.npz")["predicted"])


@pytest.mark.slow
def test_tensorflow_export_runs_as_the_keras_model_and_the_svm(demo_export):
    folder = demo_export.parent
    check_export(folder, demo_export, folder / "softmax.npz", "tensorflow")


@pytest.mark.slow
def test_torch_export_runs_as_the_keras_model_on_torch(demo_export, tmp_path):
    """The same model file exported by torch.onnx, against evaluate_softmax run on torch too."""
    folder = demo_export.parent
    params = yaml.safe_load((folder / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params, "backend": "torch"}))
    for name in ("model", "faces", "augmented", "data.json", "embeddings", "svm.skops", "svm.json", "svm.npz"):
        (tmp_path / name).symlink_to(folder / name)
    done = run_in_child("evaluate_softmax", ["--params", "params.yaml", "--model", "model", "--test",
                        "augmented/test.npz", "--metrics", "softmax.json", "--confusion", "confusion.json",
                        "--predictions", "softmax.npz"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_in_child("export", ["--params", "params.yaml", *EXPORT_ARGS], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    check_export(tmp_path, tmp_path / "export", tmp_path / "softmax.npz", "torch")


@pytest.mark.parametrize("probability", [False, True])
def test_svm_export_decides_and_scores_as_scikit_learn(tmp_path, probability):
    svm = load_svm(write_svm(tmp_path / "svm.skops", probability=probability, features=24))
    export_svm(svm, tmp_path / "svm.onnx")
    x, _ = blobs(300, 7, 24, seed=5, spread=4.0)  # wide spread: rows near the class boundaries
    labels, scores = session(tmp_path / "svm.onnx").run(["label", "scores"], {"features": x.astype(np.float64)})
    assert np.array_equal(labels, svm.predict(x))
    expected = svm.predict_proba(x) if probability else svm.decision_function(x)
    np.testing.assert_allclose(scores, expected, atol=1e-5)


@pytest.mark.parametrize("probability", [False, True])
@pytest.mark.parametrize("classes", [2, 3, 7])
def test_predict_reads_the_svm_heads_probabilities_from_the_onnx_scores(tmp_path, probability, classes):
    """Two classes included (GENKI-4K): skl2onnx orders a binary SVC's decision scores unlike scikit-learn."""
    svm = load_svm(write_svm(tmp_path / "svm.skops", probability=probability, classes=classes, features=24))
    export_svm(svm, tmp_path / "svm.onnx")
    x, _ = blobs(300, classes, 24, seed=5, spread=4.0)
    scores = session(tmp_path / "svm.onnx").run(["scores"], {"features": x.astype(np.float64)})[0]
    found = svm_probabilities_of_scores(scores, svm_probability_method(svm))
    expected = svm_probabilities(svm, x)
    np.testing.assert_allclose(found, expected, atol=TOLERANCE)
    assert np.array_equal(found.argmax(1), svm.predict(x))


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["svm.skops", "softmax.json"])
def test_missing_input_fails_without_outputs(demo_export, tmp_path, missing):
    folder = demo_export.parent
    for name in ("params.yaml", "model", "augmented", "data.json", "svm.skops", "softmax.json", "svm.json"):
        if name != missing:
            (tmp_path / name).symlink_to(folder / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        expect_error(stage_result("export", "--params", "params.yaml", *EXPORT_ARGS), missing, [tmp_path / "export"])


@pytest.mark.slow
def test_the_default_resnet50_exports_on_torch(demo_export, tmp_path):
    """The demo's default network (ResNet-50, 48 px crops resized to 32 inside it, ImageNet-mean
    constants), untrained, with an SVM fitted on made-up 2,048-d features: the stage's own parity
    check passes on the torch backend's exporter. On TensorFlow, the demo's trained ResNet-50 is exported
    by test_pipeline.py's `make repro`."""
    backend = "torch"
    from ferpipe.nn.settings import train_config
    from ferpipe.nn.models import build_model
    from ferpipe.nn.saved import ModelInfo, write_model_folder
    from support.train_params import train_params

    folder = demo_export.parent
    params = yaml.safe_load((folder / "params.yaml").read_text())
    config = train_config({**params, **train_params(arch="resnet50", train_input_size=32), "backend": backend})
    classes = json.loads((folder / "model" / "model.json").read_text())["classes"]
    write_model_folder(tmp_path / "model", build_model(config, 48, len(classes)),
                       ModelInfo(classes=classes, crop_size=48, feature_layer="features",
                                 config=config.as_dict(), precision="float32"))
    write_svm(tmp_path / "svm.skops", probability=False, features=2048)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params, "backend": backend}))
    for name in ("augmented", "data.json", "softmax.json", "svm.json"):
        (tmp_path / name).symlink_to(folder / name)
    args = ["--params", "params.yaml", *EXPORT_ARGS]
    done = run_in_child("export", args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads((tmp_path / "export" / CARD_FILE).read_text())
    assert card["network"]["exported_on"] == "torch" and card["network"]["arch"] == "resnet50" and card["network"]["outputs"] == {"probabilities": 7, "features": 2048}
    assert card["parity"]["max_probability_difference"] <= TOLERANCE and card["parity"]["svm_labels_agree"]


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_a_network_of_16_bit_compute_exports_in_float32(demo_export, tmp_path, policy):
    """The demo's trained LeNet rebuilt under a mixed policy (mixed_bfloat16: `auto` on a CPU with native bf16;
    mixed_float16: on a GPU): tf2onnx's file of its 16-bit layers did not load in ONNX Runtime; the export
    writes the network with float32 layers, checked against it, and says in the card how it was trained."""
    import keras

    from ferpipe.nn.settings import train_config
    from ferpipe.nn.models import build_model
    from ferpipe.nn.saved import ModelInfo, load_model, write_model_folder

    folder = demo_export.parent
    trained, info = load_model(folder / "model")
    keras.mixed_precision.set_global_policy(policy)
    try:
        config = train_config(yaml.safe_load((folder / "params.yaml").read_text()))
        mixed = build_model(config, info.crop_size, len(info.classes))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed.set_weights(trained.get_weights())
    write_model_folder(tmp_path / "model", mixed, info.model_copy(update={"precision": policy}))
    for name in ("params.yaml", "augmented", "data.json", "svm.skops", "softmax.json", "svm.json"):
        (tmp_path / name).symlink_to(folder / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        code, lines = stage_result("export", "--params", "params.yaml", *EXPORT_ARGS)
    assert code == 0, "\n".join(lines[-20:])
    card = json.loads((tmp_path / "export" / CARD_FILE).read_text())
    assert card["network"]["trained_precision"] == policy and card["parity"]["max_probability_difference"] <= TOLERANCE
    crops = np.load(folder / "augmented" / "test.npz")["images"].astype(np.float32)[..., None]
    probabilities = session(tmp_path / "export" / "network.onnx").run(["probabilities"], {"crops": crops})[0]
    assert probabilities.dtype == np.float32
    assert np.abs(probabilities - keras.ops.convert_to_numpy(trained(crops))).max() <= TOLERANCE
    assert np.abs(probabilities - keras.ops.convert_to_numpy(mixed(crops))).max() <= 0.05  # 16-bit rounding only
