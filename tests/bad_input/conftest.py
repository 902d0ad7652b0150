"""A tiny untrained network saved as the train stage saves one (model.keras + model.json), and the test
split it fits: enough for every check a model file goes through, in a second, without training."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from train_fixtures import CLASSES, write_toy_splits

from ferpipe.nn.backend import select_backend

CROP = 32
FEATURES = 8


def save_tiny_model(folder: Path, classes: list[str] = CLASSES, crop: int = CROP) -> Path:
    select_backend("tensorflow")
    import keras

    from ferpipe.nn.saved import ModelInfo, write_model_folder

    keras.utils.set_random_seed(0)
    inputs = keras.Input((crop, crop, 1), name="crops")
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.Dense(FEATURES, activation="tanh", name="features")(x)
    outputs = keras.layers.Dense(len(classes), activation="softmax", name="predictions")(x)
    info = ModelInfo(classes=list(classes), crop_size=crop, feature_layer="features", config={"arch": "tiny"},
                     precision="float32")
    write_model_folder(folder, keras.Model(inputs, outputs), info)
    return folder


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A folder with model/ (3 classes, 32 px crops) and splits/{train,val,test}.npz that fit it."""
    folder = tmp_path_factory.mktemp("tiny")
    save_tiny_model(folder / "model")
    write_toy_splits(folder / "splits", size=CROP)
    return folder


@pytest.fixture
def model_copy(tiny, tmp_path) -> Path:
    """A copy of the tiny model folder that a test may damage."""
    return Path(shutil.copytree(tiny / "model", tmp_path / "model"))
