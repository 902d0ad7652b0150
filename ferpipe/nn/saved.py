"""The trained-model folder that `train` writes and every later stage reads: `model.keras` (the
Keras model) and `model.json` (class names, crop size, the feature layer's name, the training
configuration).

`read_model_info` needs no deep-learning framework, so a stage can check its inputs before it
picks a Keras backend; `load_model` imports keras and must run after `select_backend`.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.fixed_zip import number_in_order, write_fixed_zip
from ferpipe.core.records import ClassNames, Name, PositiveInt, Record, Sha256, read_record

MODEL_FILE = "model.keras"
INFO_FILE = "model.json"


class PretrainedSource(Record):
    """The ferpipe model a network started from (`weights: <model folder>`, ferpipe.nn.pretrained)."""
    path: Name
    sha256: Sha256  # of the folder's files: their relative names and bytes
    classes: ClassNames
    crop_size: PositiveInt
    input_size: PositiveInt


class ModelInfo(Record):
    """model.json, checked on construction and on reading."""
    classes: ClassNames
    crop_size: PositiveInt  # side of the square grey crops the model takes
    feature_layer: Name  # name of the layer whose output is the deep feature vector
    config: dict[str, Any]  # the training configuration (TrainConfig.as_dict())
    precision: Name  # Keras dtype policy it was trained under
    pretrained: PretrainedSource | None = None

    def check_crops(self, images: np.ndarray, where: str) -> None:
        """Crops fed to this model must be (N, S, S) with S its crop size."""
        require(images.ndim == 3 and images.shape[1:] == (self.crop_size, self.crop_size),
                f"{where}: crops of shape {tuple(images.shape[1:])} do not fit the model, which takes "
                f"{self.crop_size}x{self.crop_size} crops (model.json crop_size)")


def read_model_info(folder: str | Path) -> ModelInfo:
    path = Path(folder) / INFO_FILE
    require((Path(folder) / MODEL_FILE).is_file() and path.is_file(),
            f"{folder}: no {MODEL_FILE}/{INFO_FILE}; run the train stage")
    return read_record(path, ModelInfo, "retrain with the train stage")


def save_model(model, path: Path) -> None:
    """Save in Keras' format with the same bytes for the same network and weights (DVC hashes the file).

    Keras stamps the save time into the archive's entries and metadata.json, and writes the memory
    address (`id()`) of each object several layers share (their dtype policy) into config.json as its
    `shared_object_id`; the dates are fixed here and the ids numbered in order of first appearance.
    """
    raw = path.with_name(path.name + ".raw.keras")
    model.save(raw)
    fixed = {"metadata.json": _undated, "config.json": _numbered_shared_objects}
    with zipfile.ZipFile(raw) as src:
        entries = [(name, fixed.get(name, bytes)(src.read(name))) for name in src.namelist()]
    write_fixed_zip(path, entries)
    raw.unlink()


def _undated(metadata: bytes) -> bytes:
    meta = json.loads(metadata)
    meta.pop("date_saved", None)
    return json.dumps(meta, sort_keys=True).encode()


def _numbered_shared_objects(config: bytes) -> bytes:
    state, numbers = json.loads(config), {}

    def number(key: str, value):
        return numbers.setdefault(value, len(numbers)) if key == "shared_object_id" else None

    number_in_order(state, number)
    return json.dumps(state).encode()


def write_model_folder(folder: Path, model, info: ModelInfo) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / MODEL_FILE)
    (folder / INFO_FILE).write_text(json.dumps(info.model_dump(), indent=2) + "\n")


def load_model(folder: str | Path):
    """The Keras model and its info; keras must already run on the chosen backend."""
    import keras

    info = read_model_info(folder)
    path = Path(folder) / MODEL_FILE
    require(zipfile.is_zipfile(path), f"{path}: not a Keras model file (a .keras file is a zip archive); "
                                      "rerun the train stage")
    try:
        model = keras.models.load_model(path)
    except Exception as exc:  # Keras raises many types for a broken or foreign file
        raise FerpipeError(f"{path}: cannot load the Keras model ({type(exc).__name__}: {exc})") from exc
    _check_fits(model, info, Path(folder) / INFO_FILE)
    return model, info


def _check_fits(model, info: ModelInfo, info_path: Path) -> None:
    """model.json must describe the network beside it: one class name per output, its crop size."""
    inputs, outputs = model.inputs, model.outputs
    require(len(inputs) == 1 and len(outputs) == 1, f"{info_path.with_name(MODEL_FILE)}: expected a network with one "
            f"input and one output, found {len(inputs)} and {len(outputs)}")
    out_shape, in_shape = tuple(outputs[0].shape), tuple(inputs[0].shape)
    require(out_shape[1:] == (len(info.classes),),
            f"{info_path}: lists {len(info.classes)} classes {info.classes}, but the network in {MODEL_FILE} has "
            f"{out_shape[-1]} outputs; model.json and model.keras come from different runs: rerun the train stage")
    require(in_shape[1:] == (info.crop_size, info.crop_size, 1),
            f"{info_path}: crop_size {info.crop_size}, but the network in {MODEL_FILE} takes inputs of shape "
            f"{in_shape[1:]}; model.json and model.keras come from different runs: rerun the train stage")
