"""Models and training loop in this process's Keras backend (KERAS_BACKEND, default tensorflow):
each network overfits a fixed batch, the saved model reloads and predicts the same, two seeded runs
agree, a killed run resumes to the same result (but not after a change of code), two-phase
fine-tuning freezes what it says (in both loops), the dtype policy and the GPU warning, weights errors are clear."""
from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from support.train_fixtures import CLASSES, backbone_digests, kill_after_epoch, run, toy_split  # noqa: E402

from ferpipe.core.errors import FerpipeError  # noqa: E402
from ferpipe.nn import backend, checkpoints, training  # noqa: E402
from ferpipe.nn.checkpoints import Checkpoints, fingerprint  # noqa: E402
from ferpipe.nn.settings import train_config  # noqa: E402
from ferpipe.nn.models import (  # noqa: E402
    BACKBONE_NAME,
    as_model_input,
    build_model,
    predict_probabilities,
)
from ferpipe.nn.torch_resnet50 import ResNet50, into_keras  # noqa: E402
from ferpipe.nn.schedule import epoch_batches  # noqa: E402
from ferpipe.nn.keras_loop import start_phase  # noqa: E402
from ferpipe.nn.training import choose_precision  # noqa: E402
from support.train_params import train_params  # noqa: E402


def test_lenet_layers_follow_the_paper():
    model = build_model(train_config(train_params(n_kerns=[20, 50])), 48, 7)
    assert [model.get_layer(n).filters for n in ("conv1", "conv2")] == [20, 50]
    assert model.get_layer("conv1").kernel_size == (5, 5) and model.get_layer("pool1").pool_size == (2, 2)
    assert model.get_layer("features").units == 500 and model.output_shape == (None, 7)


def test_resnet50_takes_grey_crops_and_resizes():
    model = build_model(train_config(train_params(arch="resnet50", train_input_size=40)), 32, 3)
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 3)
    assert model.get_layer("resize").output.shape[1:3] == (40, 40)
    assert model.get_layer("features").output.shape[-1] == 2048


def test_epoch_batches_are_seeded_full_and_capped():
    cfg = train_config(train_params(batch_size=8, train_steps_per_epoch=3))
    a, b = epoch_batches(50, cfg, 0), epoch_batches(50, cfg, 1)
    assert len(a) == 3 and all(len(batch) == 8 for batch in a)
    assert all((x == y).all() for x, y in zip(a, epoch_batches(50, cfg, 0)))
    assert not all((x == y).all() for x, y in zip(a, b))


def batchnorm_moving_means(model: keras.Model) -> list[np.ndarray]:
    return [np.array(layer.moving_mean) for layer in model.get_layer(BACKBONE_NAME).layers
            if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.slow
@pytest.mark.parametrize("arch, lr, steps", [("lenet", 0.02, 40), ("resnet50", 0.002, 20)])
def test_overfits_one_fixed_batch(arch, lr, steps):
    """Learning, asserted with a margin that any CPU's rounding keeps: the loss on one fixed batch
    falls twentyfold (it falls by 1000x or more). ResNet-50 from scratch: its BatchNorm trains too."""
    cfg = train_config(train_params(arch=arch, lr=lr, batch_size=8, train_momentum=0.9, train_schedule="constant"))
    backend.seed_everything(cfg.train.seed)
    model = build_model(cfg, 32, len(CLASSES))
    start_phase(model, cfg, 0, n_train=8)
    x, y = toy_split(8, seed=4)
    initial_means = batchnorm_moving_means(model) if arch == "resnet50" else None
    losses = [float(model.train_on_batch(as_model_input(x), y, return_dict=True)["loss"]) for _ in range(steps)]
    assert np.median(losses[-5:]) < losses[0] / 20, losses
    if initial_means is not None:
        assert all(not np.allclose(a, b) for a, b in zip(initial_means, batchnorm_moving_means(model), strict=True))


@pytest.mark.slow
def test_lenet_training_keeps_the_best_val_epoch_and_reloads(tmp_path):
    result = run(tmp_path, train_config(train_params()))
    assert result.best_val_accuracy == max(e["val/accuracy"] for e in result.history)
    assert result.history[result.best_epoch - 1]["val/accuracy"] == result.best_val_accuracy
    assert not (tmp_path / "checkpoints").exists()
    x, _ = toy_split(10, seed=5)
    before = predict_probabilities(result.model, x)
    result.model.save(tmp_path / "m.keras")
    after = predict_probabilities(keras.models.load_model(tmp_path / "m.keras"), x)
    np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)


def per_batch_history(cfg, x, y, xv, yv) -> list[dict]:
    """The loop that `fit_epoch` replaced, kept here only as the reference: `train_on_batch` per batch,
    its logs read back every step and averaged per epoch."""
    backend.seed_everything(cfg.train.seed)
    choose_precision(cfg)
    model = build_model(cfg, x.shape[1], len(CLASSES))
    start_phase(model, cfg, 0, len(x))
    history = []
    for epoch in range(cfg.epochs):
        sums, seen = np.zeros(2), 0
        for batch in epoch_batches(len(x), cfg, epoch):
            logs = model.train_on_batch(as_model_input(x[batch]), y[batch], return_dict=True)
            sums += [float(logs["loss"]) * len(batch), float(logs["accuracy"]) * len(batch)]
            seen += len(batch)
        val = model.evaluate(as_model_input(xv), yv, batch_size=cfg.batch_size, verbose=0, return_dict=True)
        history.append({"train/loss": sums[0] / seen, "train/accuracy": sums[1] / seen, "val/loss": val["loss"],
                        "val/accuracy": val["accuracy"]})
    return history


@pytest.mark.slow
def test_the_fit_loop_learns_what_the_per_batch_loop_learned(tmp_path):
    """Same batches (a capped epoch too), same steps, same val accuracy per epoch and best epoch; the
    train metrics add up on the device instead of in Python: equal within float noise."""
    cfg = train_config(train_params(lr=0.01, epochs=5, train_momentum=0.9, train_schedule="cosine", train_steps_per_epoch=5))
    new = run(tmp_path, cfg)
    old = per_batch_history(cfg, *toy_split(48, seed=1), *toy_split(12, seed=2))
    old_val = [e["val/accuracy"] for e in old]
    assert len(set(old_val)) > 1  # the best epoch is a real choice
    assert new.best_epoch == int(np.argmax(old_val)) + 1
    assert [e["val/accuracy"] for e in new.history] == pytest.approx(old_val, abs=1e-6)
    for key in ("train/loss", "train/accuracy", "val/loss"):
        assert [e[key] for e in new.history] == pytest.approx([e[key] for e in old], rel=1e-5)


@pytest.mark.slow
def test_two_seeded_runs_agree(tmp_path):
    cfg = train_config(train_params(epochs=2))
    first, second = run(tmp_path / "a", cfg), run(tmp_path / "b", cfg)
    assert first.history == second.history


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_epoch(tmp_path):
    cfg = train_config(train_params(epochs=3, train_momentum=0.5, train_schedule="cosine"))
    uninterrupted = run(tmp_path / "full", cfg).history
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, cfg, log_epoch=kill_after_epoch(2))
    assert (tmp_path / "checkpoints" / "state.json").is_file()
    logged = []
    resumed = run(tmp_path, cfg, log_epoch=logged.append)
    assert [e["epoch"] for e in logged] == [1, 2, 3]  # epochs 1-2 replayed from the checkpoint, 3 trained
    assert resumed.history[:2] == uninterrupted[:2]
    assert resumed.history[2] == pytest.approx(uninterrupted[2], rel=1e-4)


@pytest.mark.slow
def test_kill_between_a_model_file_and_its_state_resumes_from_the_state(tmp_path, monkeypatch):
    """A kill after epoch 2's model is written but before the state that says so: the rerun must
    resume from epoch 1's model, which the state names, not train epoch 2 again on epoch 2's."""
    cfg = train_config(train_params(epochs=3, train_momentum=0.5))
    uninterrupted = run(tmp_path / "full", cfg).history
    real_replace, states = os.replace, []

    def killed_before_the_second_state(src, dst):
        if Path(dst).name == "state.json":
            if states:
                raise KeyboardInterrupt
            states.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_before_the_second_state)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, cfg)
    monkeypatch.setattr(os, "replace", real_replace)
    resumed = run(tmp_path, cfg).history
    assert resumed[0] == uninterrupted[0]
    assert resumed[1:] == [pytest.approx(e, rel=1e-4) for e in uninterrupted[1:]]


@pytest.mark.slow
def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, train_config(train_params(lr=0.05)), log_epoch=kill_after_epoch(1))
    logged = []
    run(tmp_path, train_config(train_params(lr=0.02, epochs=1)), log_epoch=logged.append)
    assert [e["epoch"] for e in logged] == [1] and logged[0]["lr"] == pytest.approx(0.02)


@pytest.mark.slow
def test_checkpoint_of_other_code_is_not_resumed(tmp_path, monkeypatch, capsys):
    code = tmp_path / "code"
    shutil.copytree(Path(training.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(checkpoints, "CODE_FOLDER", code, raising=False)
    cfg = train_config(train_params(epochs=3))
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, cfg, log_epoch=kill_after_epoch(1))
    with pytest.raises(KeyboardInterrupt):  # the same code: resumed
        run(tmp_path, cfg, log_epoch=kill_after_epoch(2))
    assert "resuming from the checkpoint of epoch 1" in capsys.readouterr().out
    with open(code / "models.py", "a") as fh:
        fh.write("\n# an edit of the model code\n")
    run(tmp_path, cfg)
    assert "resuming" not in capsys.readouterr().out


def test_fingerprint_covers_the_keras_and_backend_versions(monkeypatch):
    cfg, data = train_config(train_params()), [np.arange(10)]
    first = fingerprint(cfg, data)
    assert fingerprint(cfg, data) == first and fingerprint(cfg, [np.arange(1, 11)]) != first
    monkeypatch.setattr(keras, "__version__", "0.0.1")
    second = fingerprint(cfg, data)
    monkeypatch.setattr(checkpoints, "backend_version", lambda: "tensorflow 0.0.1", raising=False)
    assert len({first, second, fingerprint(cfg, data)}) == 3


def test_fingerprint_hashes_the_training_data_without_copying_it():
    images = np.random.default_rng(0).integers(0, 256, (400, 160, 160), dtype=np.uint8)  # 10 MB
    cfg = train_config(train_params())
    fingerprint(cfg, [images[:1]])  # imports and caches out of the way
    tracemalloc.start()
    try:
        fingerprint(cfg, [images])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < images.nbytes / 20


@pytest.fixture(scope="module")
def pretrained_resnet50(tmp_path_factory) -> tuple[Path, dict]:
    """A ResNet-50 weights file standing in for ImageNet's, and its weights' digests."""
    keras.utils.set_random_seed(7)
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), name=BACKBONE_NAME)
    path = tmp_path_factory.mktemp("weights") / "resnet50_notop.weights.h5"
    backbone.save_weights(path)
    return path, backbone_digests(backbone)


def changed(before: list[str], after: list[str]) -> list[bool]:
    return [a != b for a, b in zip(before, after, strict=True)]


def keras_backbone(checkpoint, cfg) -> keras.Model:
    """The backbone of what a loop checkpoints: the Keras model itself, or the PyTorch loop's weights put
    into a Keras model."""
    if isinstance(checkpoint, keras.Model):
        return checkpoint.get_layer(BACKBONE_NAME)
    model = build_model(cfg, 32, len(CLASSES))
    net = ResNet50(cfg.train.input_size, len(CLASSES), cfg.train.dropout)
    net.load_state_dict(checkpoint["net"])
    into_keras(net, model)
    return model.get_layer(BACKBONE_NAME)


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["keras", "torch"])
@pytest.mark.parametrize("batchnorm", ["frozen", "train"])
def test_two_phase_fine_tuning_freezes_then_fine_tunes(tmp_path, monkeypatch, pretrained_resnet50, batchnorm, loop):
    weights, initial = pretrained_resnet50
    after_epoch = []
    real_save = Checkpoints.save
    cfg = train_config(train_params(arch="resnet50", weights=str(weights), epochs=2, batch_size=8, lr=0.1,
                                    train_head_epochs=1, train_finetune_lr_factor=0.5, train_steps_per_epoch=1,
                                    train_pretrained_batchnorm=batchnorm, train_loop=loop))

    def save(self, model, state, improved):
        after_epoch.append(backbone_digests(keras_backbone(model, cfg)))
        real_save(self, model, state, improved)

    monkeypatch.setattr(Checkpoints, "save", save)
    if loop == "keras":
        # Eager: what is checked is which weights each phase trains and at which rate; tracing ResNet-50's
        # train step for both phases cost each case 10 s more. The traced step: test_overfits_one_fixed_batch.
        compile_traced = keras.Model.compile
        monkeypatch.setattr(keras.Model, "compile", lambda model, **kw: compile_traced(model, **kw, run_eagerly=True))
    result = run(tmp_path, cfg)
    phase1, phase2 = after_epoch
    assert phase1 == initial  # phase 1: only the head trains; the backbone's BatchNorm runs in inference mode
    assert all(changed(initial["kernels"], phase2["kernels"]))
    assert changed(initial["bn_moving_stats"], phase2["bn_moving_stats"]) == [batchnorm == "train"] * 53
    assert changed(initial["bn_scale_offset"], phase2["bn_scale_offset"]) == [batchnorm == "train"] * 53
    assert [e["lr"] for e in result.history] == pytest.approx([0.1, 0.05])


@pytest.mark.parametrize("setting, gpu, flags, policy", [
    ("auto", False, {"avx2", "avx512f", "avx512_vnni"}, "float32"),  # AVX-512 without bf16: emulated, slower
    ("auto", False, {"avx2"}, "float32"),
    ("auto", False, {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),  # Zen 4/5, Cooper Lake
    ("auto", False, {"amx_bf16", "amx_tile"}, "mixed_bfloat16"),  # Sapphire Rapids
    ("auto", True, {"avx2"}, "mixed_float16"),
    ("float32", False, {"avx512_bf16"}, "float32"),  # an explicit choice holds on any machine
    ("mixed_bfloat16", False, {"avx2"}, "mixed_bfloat16"),
])
def test_the_auto_precision_follows_the_hardware(monkeypatch, setting, gpu, flags, policy):
    monkeypatch.setattr(training, "gpu_available", lambda: gpu)
    monkeypatch.setattr(training, "cpu_flags", lambda: frozenset(flags))
    cfg = train_config(train_params(epochs=1, train_mixed_precision=setting))
    assert choose_precision(cfg) == policy and keras.mixed_precision.global_policy().name == policy


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_the_keras_loop_trains_under_the_policy_chosen(tmp_path, policy):
    result = run(tmp_path, train_config(train_params(epochs=1, train_mixed_precision=policy)))
    compute = {"float32": "float32", "mixed_bfloat16": "bfloat16"}[policy]
    assert result.precision == policy and result.loop == "keras"
    assert result.model.get_layer("conv1").compute_dtype == compute
    assert result.model.get_layer("predictions").compute_dtype == "float32"  # softmax kept in float32
    assert np.isfinite(result.history[0]["train/loss"])


@pytest.mark.parametrize("keras_backend, tf_gpu, torch_cuda, driver, warned", [
    ("tensorflow", False, True, False, True),   # tensorflow-cpu beside a CUDA torch
    ("tensorflow", False, False, True, True),   # an NVIDIA driver, no CUDA torch either
    ("tensorflow", False, False, False, False),  # a CPU machine
    ("tensorflow", True, True, True, False),    # TensorFlow uses the GPU
    ("torch", False, True, True, False),        # torch runs on CUDA itself
])
def test_a_gpu_that_tensorflow_cannot_use_is_said_in_one_line(tmp_path, monkeypatch, capsys, keras_backend, tf_gpu,
                                                             torch_cuda, driver, warned):
    monkeypatch.setattr(keras.config, "backend", lambda: keras_backend)
    monkeypatch.setattr(backend, "gpu_available", lambda: tf_gpu)
    monkeypatch.setattr(backend, "torch_sees_cuda", lambda: torch_cuda)
    driver_file = tmp_path / "nvidia_version"
    if driver:
        driver_file.write_text("NVRM version: 550")
    monkeypatch.setattr(backend, "NVIDIA_DRIVER_FILE", driver_file)
    backend.warn_if_gpu_left_unused()
    err = capsys.readouterr().err
    assert err == (backend.GPU_LEFT_UNUSED + "\n" if warned else "")
    assert "runs on the CPU" in backend.GPU_LEFT_UNUSED and "-S backend=torch" in backend.GPU_LEFT_UNUSED


@pytest.mark.slow
def test_training_says_when_it_leaves_a_gpu_unused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(backend, "gpu_left_unused", lambda: True)
    run(tmp_path, train_config(train_params(epochs=1)))
    assert capsys.readouterr().err.count(backend.GPU_LEFT_UNUSED) == 1


def test_weights_file_that_does_not_fit(tmp_path):
    lenet = build_model(train_config(train_params()), 32, 3)
    lenet.save_weights(tmp_path / "lenet.weights.h5")
    cfg = train_config(train_params(arch="resnet50", weights=str(tmp_path / "lenet.weights.h5")))
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
        build_model(train_config(train_params(arch="resnet50", weights="imagenet")), 32, 3)
