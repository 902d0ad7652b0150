"""Models and training loop in this process's Keras backend (KERAS_BACKEND, default tensorflow):
loss falls on a learnable toy set, the saved model reloads and predicts the same, two seeded runs
agree, a killed run resumes to the same result, weights errors are clear."""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from train_fixtures import CLASSES, params, toy_split  # noqa: E402

from ferpipe.core.errors import FerpipeError  # noqa: E402
from ferpipe.nn import training  # noqa: E402
from ferpipe.nn.config import train_config  # noqa: E402
from ferpipe.nn.models import build_model, predict_probabilities, set_backbone_trainable  # noqa: E402
from ferpipe.nn.training import epoch_batches, train  # noqa: E402


def run(tmp_path, cfg, **kwargs):
    x, y = toy_split(48, seed=1)
    xv, yv = toy_split(12, seed=2)
    return train(cfg, x, y, xv, yv, len(CLASSES), tmp_path / "checkpoints", **kwargs)


def test_lenet_layers_follow_the_paper():
    model = build_model(train_config(params(n_kerns=[20, 50])), 48, 7)
    assert [model.get_layer(n).filters for n in ("conv1", "conv2")] == [20, 50]
    assert model.get_layer("conv1").kernel_size == (5, 5) and model.get_layer("pool1").pool_size == (2, 2)
    assert model.get_layer("features").units == 500 and model.output_shape == (None, 7)


def test_resnet50_takes_grey_crops_and_resizes():
    model = build_model(train_config(params(arch="resnet50", train_input_size=40)), 32, 3)
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 3)
    assert model.get_layer("resize").output.shape[1:3] == (40, 40)
    assert model.get_layer("features").output.shape[-1] == 2048


def test_epoch_batches_are_seeded_full_and_capped():
    cfg = train_config(params(batch_size=8, train_steps_per_epoch=3))
    a, b = epoch_batches(50, cfg, 0), epoch_batches(50, cfg, 1)
    assert len(a) == 3 and all(len(batch) == 8 for batch in a)
    assert all((x == y).all() for x, y in zip(a, epoch_batches(50, cfg, 0)))
    assert not all((x == y).all() for x, y in zip(a, b))


def test_lenet_learns_saves_and_reloads(tmp_path):
    result = run(tmp_path, train_config(params()))
    losses = [entry["train/loss"] for entry in result.history]
    assert losses[-1] < losses[0]
    assert result.best_val_accuracy == max(e["val/accuracy"] for e in result.history)
    assert result.history[result.best_epoch - 1]["val/accuracy"] == result.best_val_accuracy
    assert not (tmp_path / "checkpoints").exists()
    x, _ = toy_split(10, seed=5)
    before = predict_probabilities(result.model, x)
    result.model.save(tmp_path / "m.keras")
    after = predict_probabilities(keras.models.load_model(tmp_path / "m.keras"), x)
    np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)


def test_two_seeded_runs_agree(tmp_path):
    cfg = train_config(params(epochs=2))
    first, second = run(tmp_path / "a", cfg), run(tmp_path / "b", cfg)
    assert first.history == second.history


def test_killed_run_resumes_from_its_last_epoch(tmp_path):
    cfg = train_config(params(epochs=3, train_momentum=0.5, train_schedule="cosine"))
    uninterrupted = run(tmp_path / "full", cfg).history

    def kill_after_epoch_2(entry):
        if entry["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, cfg, log_epoch=kill_after_epoch_2)
    assert (tmp_path / "checkpoints" / "last.keras").is_file()
    logged = []
    resumed = run(tmp_path, cfg, log_epoch=logged.append)
    assert [e["epoch"] for e in logged] == [1, 2, 3]  # epochs 1-2 replayed from the checkpoint, 3 trained
    assert resumed.history[:2] == uninterrupted[:2]
    assert resumed.history[2] == pytest.approx(uninterrupted[2], rel=1e-4)


def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path):
    def kill(entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, train_config(params(lr=0.05)), log_epoch=kill)
    logged = []
    run(tmp_path, train_config(params(lr=0.02, epochs=1)), log_epoch=logged.append)
    assert [e["epoch"] for e in logged] == [1] and logged[0]["lr"] == pytest.approx(0.02)


def test_two_phase_fine_tuning_freezes_then_unfreezes(tmp_path, monkeypatch):
    calls = []

    def spy(model, trainable):
        calls.append(trainable)
        set_backbone_trainable(model, trainable)

    monkeypatch.setattr(training, "set_backbone_trainable", spy)
    cfg = train_config(params(arch="resnet50", epochs=2, batch_size=16, train_head_epochs=1, train_steps_per_epoch=1,
                              train_dropout=0.5, lr=0.01))
    result = run(tmp_path, cfg)
    assert calls == [False, True] and len(result.history) == 2
    frozen_in_best = result.best_epoch == 1
    assert result.model.get_layer("resnet50").trainable is not frozen_in_best


def test_weights_file_that_does_not_fit(tmp_path):
    lenet = build_model(train_config(params()), 32, 3)
    lenet.save_weights(tmp_path / "lenet.weights.h5")
    cfg = train_config(params(arch="resnet50", weights=str(tmp_path / "lenet.weights.h5")))
    with pytest.raises(FerpipeError, match=r"^weights=.*does not fit ResNet-50"):
        build_model(cfg, 32, 3)


def test_imagenet_weights_offline_say_what_to_do(monkeypatch):
    real = keras.applications.ResNet50

    def offline(*args, weights=None, **kwargs):
        if weights == "imagenet":
            raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")
        return real(*args, weights=weights, **kwargs)

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(FerpipeError, match=r"resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5.*-S weights=none"):
        build_model(train_config(params(arch="resnet50", weights="imagenet")), 32, 3)
