"""`train.loop: torch`: the PyTorch copy of the Keras ResNet-50 computes what Keras computes, its loop
learns in float32 and in bf16, keeps the best val epoch, resumes a killed run, and hands back a
Keras model that predicts as the trained PyTorch module did."""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from support.train_fixtures import CLASSES, kill_after_epoch, run, toy_split  # noqa: E402

from ferpipe.core.errors import FerpipeError  # noqa: E402
from ferpipe.nn import backend  # noqa: E402
from ferpipe.nn.settings import train_config  # noqa: E402
from ferpipe.nn.models import BACKBONE_NAME, build_model, predict_probabilities  # noqa: E402
from ferpipe.nn.torch_resnet50 import from_keras, into_keras  # noqa: E402
from ferpipe.nn.torch_loop import TorchLoop  # noqa: E402
from support.train_params import train_params  # noqa: E402


def resnet_cfg(**overrides):
    settings = {"arch": "resnet50", "batch_size": 8, "lr": 0.01, "train_loop": "torch", "train_momentum": 0.9,
                **overrides}
    return train_config(train_params(**settings))


def with_moving_statistics(model: keras.Model) -> keras.Model:
    """BatchNorm statistics away from their initial 0 and 1, so that a copy that drops them shows."""
    rng = np.random.default_rng(0)
    for layer in model.get_layer(BACKBONE_NAME).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta, rng.normal(0, 0.1, mean.shape).astype(np.float32),
                               rng.uniform(0.5, 2.0, var.shape).astype(np.float32)])
    return model


def test_the_pytorch_copy_computes_what_keras_computes_and_copies_back_exactly():
    cfg = resnet_cfg(train_input_size=36)  # 40 px crops resized to 36: Keras' Resizing against F.interpolate
    keras.utils.set_random_seed(0)
    model = with_moving_statistics(build_model(cfg, 40, 5))
    crops = np.random.default_rng(1).integers(0, 256, (6, 40, 40), dtype=np.uint8)
    net = from_keras(model, 36, 5, 0.0).eval()
    with torch.no_grad():
        torch_probabilities = torch.softmax(net(torch.from_numpy(crops)), 1).numpy()
    np.testing.assert_allclose(torch_probabilities, predict_probabilities(model, crops), atol=1e-4)
    other = build_model(cfg, 40, 5)
    into_keras(net, other)
    for a, b in zip(model.weights, other.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_overfits_one_fixed_batch_in_float32_and_in_bf16(precision):
    """The margin of the Keras loop's test: the loss on one fixed batch falls twentyfold. bf16 runs
    emulated on a CPU without it, slowly but with the same arithmetic's precision."""
    cfg = resnet_cfg(lr=0.002, train_schedule="constant")
    backend.seed_everything(cfg.train.seed)
    x, y = toy_split(8, seed=4)
    loop = TorchLoop(cfg, precision, x, y, x, y, len(CLASSES))
    loop.start_phase(0)
    losses = [loop.fit_epoch([np.arange(8)], "step")["loss"] for _ in range(20)]
    assert np.median(losses[-5:]) < losses[0] / 20, losses


def test_float16_is_refused_with_the_setting_named():
    x, y = toy_split(8, seed=4)
    with pytest.raises(FerpipeError, match="mixed_precision=mixed_float16 does not fit train.loop=torch"):
        TorchLoop(resnet_cfg(), "mixed_float16", x, y, x, y, len(CLASSES))


@pytest.mark.slow
def test_keeps_the_best_epoch_resumes_a_killed_run_and_returns_that_keras_model(tmp_path):
    cfg = resnet_cfg(epochs=3, train_schedule="cosine", train_nesterov=True, train_weight_decay=0.0005)
    uninterrupted = run(tmp_path / "full", cfg, n_train=32)
    assert uninterrupted.loop == "torch" and uninterrupted.precision in ("float32", "mixed_bfloat16")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, cfg, n_train=32, log_epoch=kill_after_epoch(2))
    logged = []
    resumed = run(tmp_path, cfg, n_train=32, log_epoch=logged.append)
    assert [e["epoch"] for e in logged] == [1, 2, 3]  # 1-2 replayed from the checkpoint, 3 trained
    assert resumed.history[:2] == uninterrupted.history[:2]
    assert resumed.history[2] == pytest.approx(uninterrupted.history[2], rel=1e-4)
    assert not (tmp_path / "checkpoints").exists()
    best = uninterrupted.history[uninterrupted.best_epoch - 1]
    assert best["val/accuracy"] == max(e["val/accuracy"] for e in uninterrupted.history)
    xv, yv = toy_split(12, seed=2)  # the returned Keras model is the best epoch's, BatchNorm statistics included
    accuracy = float((predict_probabilities(uninterrupted.model, xv).argmax(1) == yv).mean())
    assert accuracy == pytest.approx(best["val/accuracy"], abs=1 / 12 + 1e-9)


def test_the_learning_rate_warms_up_then_follows_keras_cosine_decay():
    """The PyTorch loop's rate at every step is the one Keras' CosineDecay (with its warm-up) gives the Keras
    loop, for both schedules and with two-phase fine-tuning's second phase."""
    from ferpipe.nn.schedule import learning_rate, phase_plan

    for overrides in ({"train_schedule": "cosine"}, {"train_schedule": "constant"},
                      {"train_schedule": "cosine", "train_head_epochs": 1}):
        cfg = resnet_cfg(lr=0.1, epochs=3, train_warmup_epochs=1.5, **overrides)
        epoch = cfg.train.head_epochs
        plan = phase_plan(cfg, epoch, n_train=40)  # 5 batches of 8 an epoch
        assert plan.warmup_steps == round(1.5 * 5) and plan.steps == 5 * (3 - epoch)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=plan.steps - plan.warmup_steps, warmup_target=plan.lr, warmup_steps=plan.warmup_steps,
            alpha=0.0 if cfg.train.schedule == "cosine" else 1.0)
        ours = [learning_rate(plan, cfg.train.schedule, step) for step in range(plan.steps + 2)]
        theirs = [float(keras.ops.convert_to_numpy(schedule(step))) for step in range(plan.steps + 2)]
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
        assert ours[0] == 0 and max(ours) == pytest.approx(plan.lr)


def test_without_warm_up_the_rate_is_the_cosine_decay_of_before():
    from ferpipe.nn.schedule import learning_rate, phase_plan

    plan = phase_plan(resnet_cfg(lr=0.1, epochs=2, train_schedule="cosine"), 0, n_train=40)
    assert plan.warmup_steps == 0
    assert [learning_rate(plan, "cosine", s) for s in (0, 5, 10, 11)] == pytest.approx([0.1, 0.05, 0.0, 0.0])


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{"train_label_smoothing": 0.1}, {"train_mixup": 0.4},
                                       {"train_mixup": 0.4, "train_label_smoothing": 0.1}])
def test_label_smoothing_and_mixup_change_the_step_and_are_drawn_the_same_again(overrides):
    """Each setting changes what one step learns; two loops of the same seed draw the same blends (a
    resumed run draws what it would have drawn: the draw depends on the seed, the phase and the step)."""
    def weights_after_two_steps(**settings):
        backend.seed_everything(0)
        x, y = toy_split(8, seed=4)
        loop = TorchLoop(resnet_cfg(lr=0.05, train_schedule="constant", **settings), "float32", x, y, x, y,
                         len(CLASSES))
        loop.start_phase(0)
        loss = loop.fit_epoch([np.arange(8), np.arange(8)], "step")["loss"]
        return loss, loop.net.head.weight.detach().clone()

    plain_loss, plain = weights_after_two_steps()
    loss, first = weights_after_two_steps(**overrides)
    again_loss, again = weights_after_two_steps(**overrides)
    assert loss != plain_loss and not torch.equal(first, plain)
    assert loss == again_loss and torch.equal(first, again)


def test_mixup_blends_inputs_and_targets_by_one_beta_draw():
    x, y = toy_split(8, seed=4)
    loop = TorchLoop(resnet_cfg(train_mixup=0.4), "float32", x, y, x, y, len(CLASSES))
    loop.start_phase(0)
    weights = []
    for step in range(200):
        loop.step = step
        weight, partner = loop._mixup_draw(8)
        assert sorted(partner.tolist()) == list(range(8))
        weights.append(weight)
    # Beta(0.4, 0.4): U-shaped on [0, 1], mean 1/2
    assert 0 <= min(weights) and max(weights) <= 1 and abs(np.mean(weights) - 0.5) < 0.1
    assert np.mean([(w < 0.1) or (w > 0.9) for w in weights]) > 0.3


def test_the_keras_loop_refuses_what_only_the_pytorch_loop_trains():
    from ferpipe.nn.keras_loop import KerasLoop

    x, y = toy_split(8, seed=4)
    cfg = resnet_cfg(train_loop="auto", train_label_smoothing=0.1)  # auto resolves to keras on a GPU
    with pytest.raises(FerpipeError, match=r"train\.label_smoothing=0\.1 needs the PyTorch loop"):
        KerasLoop(cfg, x, y, x, y, len(CLASSES))
