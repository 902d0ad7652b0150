"""Bad export folders (model_card.json and the ONNX files it names) through `predict --engine onnx`, in-process
on a tiny ONNX network and SVM made here: one `error:` line naming the file and the field, exit 1, nothing
printed or drawn. A card may name only files of its own folder, and what is loaded is what was checked."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from support.stage_runs import expect_error, result_of
from test_bad_models import predict_params

from ferpipe.commands import predict as predict_command
from ferpipe.export.card import CARD_FILE

CROP, FEATURES, CLASSES = 32, 8, ["dark", "bright", "grey"]
FACES = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())["faces"]


def _weights(name: str, shape: tuple, dtype=np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.random.default_rng(0).normal(size=shape).astype(dtype), name)


def network_model() -> bytes:
    nodes = [helper.make_node("Reshape", ["crops", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w1"], ["hidden"]), helper.make_node("Tanh", ["hidden"], ["features"]),
             helper.make_node("MatMul", ["features", "w2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "network", [helper.make_tensor_value_info("crops", TensorProto.FLOAT, [None, CROP, CROP, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(CLASSES)]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, FEATURES])],
        [numpy_helper.from_array(np.array([-1, CROP * CROP], np.int64), "shape"), _weights("w1", (CROP * CROP, FEATURES)),
         _weights("w2", (FEATURES, len(CLASSES)))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def svm_model() -> bytes:
    nodes = [helper.make_node("MatMul", ["features", "w"], ["scores"]),
             helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0)]
    graph = helper.make_graph(
        nodes, "svm", [helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, FEATURES])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("scores", TensorProto.DOUBLE, [None, len(CLASSES)])],
        [_weights("w", (FEATURES, len(CLASSES)), np.float64)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def entry(folder: Path, name: str, **fields) -> dict:
    return {"file": name, "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(), **fields}


def write_export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "network.onnx").write_bytes(network_model())
    (folder / "svm.onnx").write_bytes(svm_model())
    card = {"format": 1, "classes": CLASSES, "crop_size": CROP, "preprocessing": "as the export stage's",
            "network": entry(folder, "network.onnx", input="crops",
                             outputs={"probabilities": len(CLASSES), "features": FEATURES}, arch="tiny",
                             exported_on="tensorflow"),
            "svm": entry(folder, "svm.onnx", input="features", outputs={"label": 1, "scores": len(CLASSES)},
                         probabilities="svm_decision_softmax"),
            "faces": FACES, "dataset": {"name": "demo", "content_hash": "0" * 16},
            "test_accuracy": {"softmax": 0.5, "svm": 0.5},
            "parity": {"crops": 3, "max_probability_difference": 0.0, "probability_tolerance": 1e-4,
                       "argmax_agrees": True, "svm_labels_agree": True, "max_svm_probability_difference": 0.0,
                       "max_feature_difference": 0.0}}
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2))
    return folder


def predict_onnx(tmp: Path, export: Path, *args) -> tuple[int, list[str]]:
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp / "photo.png")
    return result_of(predict_command._main, "--params", predict_params(tmp), tmp / "photo.png", "--engine", "onnx",
                     "--export", export, "--out", tmp / "drawn", *args)


def edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        card = json.loads((folder / CARD_FILE).read_text())
        change(card)
        (folder / CARD_FILE).write_text(json.dumps(card))
    return damage


def setting(dotted: str, value) -> Callable[[Path], None]:
    def change(card: dict) -> None:
        *parents, last = dotted.split(".")
        for key in parents:
            card = card[key]
        if value is KeyError:
            del card[last]
        else:
            card[last] = value
    return edit(change)


def copy_outside(folder: Path) -> None:
    """A patched network beside the folder, named by the card with its own sha256."""
    (folder.parent / "other").mkdir()
    (folder.parent / "other" / "network.onnx").write_bytes(network_model())
    setting("network.file", "../other/network.onnx")(folder)


def link_out(folder: Path) -> None:
    (folder.parent / "elsewhere.onnx").write_bytes((folder / "network.onnx").read_bytes())
    (folder / "network.onnx").unlink()
    (folder / "network.onnx").symlink_to(folder.parent / "elsewhere.onnx")


def fifo_network(folder: Path) -> None:
    (folder / "network.onnx").unlink()
    os.mkfifo(folder / "network.onnx")


def write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(content)


CARD_CASES = [
    ("a file outside the folder", copy_outside,
     "model_card.json: network.file: must be the bare name of a file in the folder, got '../other/network.onnx'"),
    ("an absolute file path", setting("network.file", "/etc/passwd"), "network.file: must be the bare name of a file"),
    ("a network.onnx linking out", link_out, "network.onnx: is a symbolic link, expected a model file"),
    ("a FIFO as network.onnx", fifo_network, "network.onnx: is a FIFO (named pipe), expected a model file"),
    ("a class named twice", setting("classes", ["dark", "dark", "grey"]), "classes: class names must be unique"),
    ("classes a string", setting("classes", "abcdefg"), "model_card.json: classes: input should be a valid list"),
    ("classes integers", setting("classes", [0, 1, 2]), "classes.0: input should be a valid string, got 0"),
    ("crop size a fraction", setting("crop_size", 32.9), "crop_size: input should be a valid integer, got 32.9"),
    ("crop size a string", setting("crop_size", "abc"), "crop_size: input should be a valid integer, got 'abc'"),
    ("crop size null", setting("crop_size", None), "crop_size: input should be a valid integer, got None"),
    ("crop size NaN", setting("crop_size", float("nan")), "model_card.json: not valid JSON (NaN is not a JSON number)"),
    ("no features width", setting("network.outputs.features", KeyError), "missing field network.outputs.features"),
    ("a bogus probability method", setting("svm.probabilities", "bogus"), "svm.probabilities: input should be"),
    ("another format", setting("format", 2), "model_card.json: format: input should be 1, got 2"),
    ("an unknown field", setting("notes", "hi"), "model_card.json: unknown field notes"),
    ("fewer classes than outputs", setting("classes", ["dark", "bright"]), "lists 2 classes, but network.outputs"),
    ("not a sha256", setting("svm.sha256", "abc"), "svm.sha256: string should match pattern"),
    ("nested 100,000 deep", write(CARD_FILE, b"[" * 100_000 + b"]" * 100_000),
     "model_card.json: nested deeper than 64 levels"),
    ("a key given twice", write(CARD_FILE, b'{"format": 1, "format": 1}'), "key 'format' given twice"),
    ("a changed network.onnx", write("network.onnx", network_model() + b"\0"),
     "network.onnx: its sha256 is not the one in model_card.json"),
    ("a bad face setting", setting("faces.pad", 7), "model_card.json: faces.pad must be a number in [0, 1], got 7"),
]


@pytest.mark.parametrize("damage, message", [c[1:] for c in CARD_CASES], ids=[c[0] for c in CARD_CASES])
def test_bad_export(tmp_path, damage, message):
    export = write_export(tmp_path / "export")
    damage(export)
    expect_error(predict_onnx(tmp_path, export, "--head", "svm"), message, [tmp_path / "drawn"])


def test_the_tiny_export_runs(tmp_path):
    code, lines = predict_onnx(tmp_path, write_export(tmp_path / "export"), "--head", "svm")
    assert code == 0 and not [line for line in lines if line.startswith("error:")], lines[-10:]
