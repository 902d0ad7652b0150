"""Saved models are byte-identical for identical weights, so DVC's hashes only move when weights do."""
import datetime
import os
import re
import time
import zipfile
from types import SimpleNamespace

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.saving import saving_lib  # noqa: E402

from ferpipe.nn.saved import save_model  # noqa: E402


@pytest.fixture
def clock(monkeypatch):
    """The time Keras' saving sees (metadata.json's date, the zip entries' times), moved by the test:
    two real saves often fall in the same second and would hide a timestamp in the file."""
    now = [datetime.datetime(2030, 1, 1, 12, 0, 0)]

    class SetDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return now[0]

    monkeypatch.setattr(saving_lib, "datetime", SimpleNamespace(datetime=SetDatetime))
    monkeypatch.setattr(zipfile, "time", SimpleNamespace(time=lambda: now[0].timestamp(), localtime=time.localtime))
    return now


def test_same_weights_same_bytes_and_the_model_reloads(tmp_path, clock):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.save(tmp_path / "plain_a.keras")
    save_model(model, tmp_path / "a.keras")
    clock[0] += datetime.timedelta(days=1, seconds=7)
    model.save(tmp_path / "plain_b.keras")
    save_model(model, tmp_path / "b.keras")
    # Keras' own save differs at another time (else this test could not see a timestamp); save_model's does not.
    assert (tmp_path / "plain_a.keras").read_bytes() != (tmp_path / "plain_b.keras").read_bytes()
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    x = np.ones((2, 4), dtype=np.float32)
    reloaded = keras.saving.load_model(tmp_path / "a.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
    save_model(model, tmp_path / "c.keras")
    assert (tmp_path / "c.keras").read_bytes() != (tmp_path / "a.keras").read_bytes()


def two_layer_net() -> keras.Model:
    """A functional network whose two layers share one dtype policy object (a `shared_object_id` in config.json),
    as the layers of ferpipe's networks share the global precision policy."""
    keras.utils.set_random_seed(0)
    policy = keras.DTypePolicy("float32")
    inputs = keras.Input((4,), name="x")  # named as the pipeline's networks are: Keras numbers unnamed ones per process
    hidden = keras.layers.Dense(3, name="hidden", dtype=policy)(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="out", dtype=policy)(hidden), name="net")


def test_the_same_network_built_twice_saves_to_the_same_bytes(tmp_path):
    first, second = two_layer_net(), two_layer_net()  # alike, their shared objects at other addresses
    for name, model in (("a", first), ("b", second)):
        model.save(tmp_path / f"plain_{name}.keras")
        save_model(model, tmp_path / f"{name}.keras")

    def config(name: str) -> bytes:
        with zipfile.ZipFile(tmp_path / name) as archive:
            return archive.read("config.json")

    assert b"shared_object_id" in config("plain_a.keras") and config("plain_a.keras") != config("plain_b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    assert set(re.findall(rb'"shared_object_id": (\d+)', config("a.keras"))) == {b"0"}
    x = np.ones((2, 4), dtype=np.float32)
    reloaded = keras.saving.load_model(tmp_path / "b.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), first.predict(x, verbose=0))
