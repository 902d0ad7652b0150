"""Saved models are byte-identical for identical weights, so DVC's hashes only move when weights do."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ferpipe.nn.saved import save_model  # noqa: E402


def test_same_weights_same_bytes_and_the_model_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    save_model(model, tmp_path / "a.keras")
    save_model(model, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    x = np.ones((2, 4), dtype=np.float32)
    reloaded = keras.saving.load_model(tmp_path / "a.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
    save_model(model, tmp_path / "c.keras")
    assert (tmp_path / "c.keras").read_bytes() != (tmp_path / "a.keras").read_bytes()
