"""The fast loop trains no network (tests/support/no_training.py, installed by conftest.py): a test not marked
slow runs with every training step refused, torch's and Keras' alike."""
from __future__ import annotations

import sys

import pytest
import torch
from support.no_training import TrainingInFastTest, training_is_refused, training_refused

from ferpipe.nn.backend import select_backend


def test_a_fast_test_runs_with_training_refused():
    assert training_is_refused()


@pytest.mark.slow
def test_a_slow_test_may_train():
    assert not training_is_refused()


def test_a_torch_backward_pass_is_refused():
    net = torch.nn.Linear(3, 2)
    with training_refused() as refused, pytest.raises(TrainingInFastTest, match="mark it slow"):
        net(torch.ones(4, 3)).sum().backward()
    assert refused == ["torch backward"] and net.weight.grad is None


def test_a_keras_training_step_is_refused():
    if "keras" not in sys.modules:
        select_backend("tensorflow")
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with training_refused() as refused, pytest.raises(TrainingInFastTest, match="mark it slow"):
        model.train_on_batch(torch.ones(4, 3).numpy(), torch.zeros(4, 2).numpy())
    assert refused and refused[0].endswith("Trainer.train_step")
