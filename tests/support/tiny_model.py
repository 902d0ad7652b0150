"""A tiny untrained network saved as the train stage saves one (model.keras + model.json): enough for every
check a model file goes through, in a second, without training (the fast loop trains nothing)."""
from __future__ import annotations

from pathlib import Path

from support.train_fixtures import CLASSES

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
