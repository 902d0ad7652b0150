"""Training parameters: each bad value is one clear error naming the parameter (no framework needed)."""
from __future__ import annotations

import pytest
from train_fixtures import params

from ferpipe.core.errors import FerpipeError
from ferpipe.nn.config import lenet_feature_sizes, train_config


def test_defaults_parse():
    cfg = train_config(params(pool_size=2, weights="None"))
    assert cfg.pool_size == (2, 2) and cfg.weights is None and cfg.n_kerns == (4, 8)


@pytest.mark.parametrize("overrides, named", [
    ({"arch": "vgg"}, "arch"),
    ({"backend": "jax"}, "backend"),
    ({"lr": 0}, "lr"),
    ({"lr": -0.1}, "lr"),
    ({"lr": "fast"}, "lr"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"epochs": 0}, "epochs"),
    ({"n_kerns": [20]}, "n_kerns"),
    ({"n_kerns": [20, 0]}, "n_kerns"),
    ({"n_kerns": [20, 50, 70]}, "n_kerns"),
    ({"pool_size": [2, -1]}, "pool_size"),
    ({"weights": "imagenet"}, "weights"),  # lenet trains from scratch
    ({"arch": "resnet50", "weights": "no/such/file.h5"}, "weights"),
    ({"arch": "resnet50", "train_input_size": 16}, "train.input_size"),
    ({"train_head_epochs": 3}, "train.head_epochs"),
    ({"train_momentum": 1.0}, "train.momentum"),
    ({"train_schedule": "step"}, "train.schedule"),
    ({"train_steps_per_epoch": 0}, "train.steps_per_epoch"),
    ({"train_mixed_precision": "half"}, "train.mixed_precision"),
])
def test_bad_value_names_the_parameter(overrides, named):
    with pytest.raises(FerpipeError, match=rf"^{named}\b"):
        train_config(params(**overrides))


def test_missing_parameter_is_named():
    p = params()
    del p["lr"]
    with pytest.raises(FerpipeError, match="missing parameter.*lr"):
        train_config(p)


def test_lenet_feature_sizes_and_oversized_pool():
    assert lenet_feature_sizes(48, (2, 2)) == [(22, 22), (9, 9)]
    with pytest.raises(FerpipeError, match=r"^pool_size=\[8, 8\] is larger than the 1x1 feature map after LeNet's conv 2"):
        lenet_feature_sizes(48, (8, 8))
    with pytest.raises(FerpipeError, match=r"^pool_size=\[10, 10\] leaves a 4x4 feature map"):
        lenet_feature_sizes(48, (10, 10))
    with pytest.raises(FerpipeError, match=r"^pool_size=\[30, 2\] is larger than the 28x28 feature map after LeNet's conv 1"):
        lenet_feature_sizes(32, (30, 2))
    with pytest.raises(FerpipeError, match=r"^train.input_size=4 is too small"):
        lenet_feature_sizes(4, (1, 1))
