"""Training parameters: each bad value is one clear error naming the file and the parameter (no framework needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ferpipe.core.errors import FerpipeError
from ferpipe.core.params import load_params
from ferpipe.nn.settings import lenet_feature_sizes, train_config
from support.train_params import train_params

REPO = Path(__file__).resolve().parents[1]


def test_defaults_parse():
    cfg = train_config(train_params(pool_size=2, weights="None"))
    assert cfg.pool_size == (2, 2) and cfg.weights is None and cfg.n_kerns == (4, 8)
    assert cfg.train.steps_per_epoch is None and cfg.train.finetune_lr_factor == 0.1


def test_the_pipeline_params_parse():
    cfg = train_config(load_params(REPO / "params.yaml"))
    assert cfg.arch in ("resnet50", "lenet")


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
    ({"pool_size": [30, 30]}, "pool_size"),  # larger than LeNet's feature map
    ({"weights": "imagenet"}, "weights"),  # lenet trains from scratch
    ({"weights": 3}, "weights"),
    ({"arch": "resnet50", "weights": "no/such/file.h5"}, "weights"),
    ({"arch": "resnet50", "train_input_size": 16}, "train.input_size"),
    ({"train_input_size": 4}, "train.input_size"),  # too small for LeNet's convolutions
    ({"train_head_epochs": 3}, "train.head_epochs"),
    ({"train_head_epochs": 1}, "train.head_epochs"),  # lenet has no pretrained backbone
    ({"train_finetune_lr_factor": 0}, "train.finetune_lr_factor"),
    ({"train_finetune_lr_factor": 2}, "train.finetune_lr_factor"),
    ({"train_pretrained_batchnorm": "inference"}, "train.pretrained_batchnorm"),
    ({"train_dropout": 1}, "train.dropout"),
    ({"train_momentum": 1.0}, "train.momentum"),
    ({"train_nesterov": "yes"}, "train.nesterov"),
    ({"train_weight_decay": -1e-4}, "train.weight_decay"),
    ({"train_schedule": "step"}, "train.schedule"),
    ({"train_steps_per_epoch": 0}, "train.steps_per_epoch"),
    ({"train_steps_per_epoch": 2.5}, "train.steps_per_epoch"),
    ({"train_mixed_precision": "half"}, "train.mixed_precision"),
    ({"train_loop": "jax"}, "train.loop"),
    ({"train_loop": "torch"}, "train.loop"),  # the PyTorch loop trains resnet50 only
    ({"train_seed": None}, "train.seed"),
    ({"train_warmup_epochs": -1}, "train.warmup_epochs"),
    ({"train_warmup_epochs": 4}, "train.warmup_epochs"),  # longer than the run's 3 epochs
    ({"arch": "resnet50", "epochs": 3, "train_head_epochs": 1, "train_warmup_epochs": 2.5}, "train.warmup_epochs"),
    ({"train_label_smoothing": 1.0}, "train.label_smoothing"),
    ({"train_label_smoothing": 0.1}, "train.label_smoothing"),  # lenet: the Keras loop has no label smoothing
    ({"arch": "resnet50", "train_loop": "keras", "train_mixup": 0.2}, "train.mixup"),
    ({"arch": "resnet50", "train_mixup": -0.2}, "train.mixup"),
])
def test_bad_value_names_the_file_and_parameter(overrides, named):
    with pytest.raises(FerpipeError, match=rf"^my/params\.yaml: {named}\b"):
        train_config(train_params(**overrides), params_file="my/params.yaml")


def test_messages_say_what_is_expected():
    with pytest.raises(FerpipeError, match=r"^params\.yaml: train\.momentum must be a number in \[0, 1\), got 1\.0$"):
        train_config(train_params(train_momentum=1.0))
    with pytest.raises(FerpipeError, match=r"^params\.yaml: lr must be a number > 0, got 0$"):
        train_config(train_params(lr=0))
    with pytest.raises(FerpipeError, match=r"train\.steps_per_epoch must be null or an integer >= 1, got 0$"):
        train_config(train_params(train_steps_per_epoch=0))


def test_unknown_key_in_the_train_block_is_refused():
    with pytest.raises(FerpipeError, match=r"^params\.yaml: unknown parameter train\.momentun \(did you mean train\.momentum\?\)$"):
        train_config(train_params(train_momentun=0.9))


def test_missing_parameter_is_named():
    p = train_params()
    del p["lr"]
    with pytest.raises(FerpipeError, match=r"^params\.yaml: missing parameter lr$"):
        train_config(p)
    p = train_params()
    del p["train"]["seed"]
    with pytest.raises(FerpipeError, match=r"^params\.yaml: missing parameter train\.seed$"):
        train_config(p)
    with pytest.raises(FerpipeError, match=r"^params\.yaml: train must be a mapping of input_size, .*, got None$"):
        train_config({**train_params(), "train": None})


def test_batchnorm_is_frozen_only_for_pretrained_weights(tmp_path):
    weights = tmp_path / "resnet50.weights.h5"
    weights.write_bytes(b"")
    pretrained = train_config(train_params(arch="resnet50", weights=str(weights)))
    assert pretrained.batchnorm_frozen
    assert not train_config(train_params(arch="resnet50", weights=str(weights), train_pretrained_batchnorm="train")).batchnorm_frozen
    assert not train_config(train_params(arch="resnet50", weights="none")).batchnorm_frozen


def test_lenet_feature_sizes_and_oversized_pool():
    assert lenet_feature_sizes(48, (2, 2)) == [(22, 22), (9, 9)]
    with pytest.raises(FerpipeError, match=r"^params\.yaml: pool_size=\[8, 8\] is larger than the 1x1 feature map after LeNet's conv 2"):
        lenet_feature_sizes(48, (8, 8))
    with pytest.raises(FerpipeError, match=r"^params\.yaml: pool_size=\[10, 10\] leaves a 4x4 feature map"):
        lenet_feature_sizes(48, (10, 10))
    with pytest.raises(FerpipeError, match=r"^params\.yaml: pool_size=\[30, 2\] is larger than the 28x28 feature map after LeNet's conv 1"):
        lenet_feature_sizes(32, (30, 2))
    with pytest.raises(FerpipeError, match=r"^params\.yaml: train.input_size=4 is too small"):
        lenet_feature_sizes(4, (1, 1))
