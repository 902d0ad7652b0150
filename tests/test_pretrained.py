"""`weights: <ferpipe model folder>`: a trained ResNet-50's backbone starts a new one with a new head; the
source's hash and classes are recorded; a folder that cannot start this run is one `error:` line."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from support.stage_runs import run_in_child, run_in_process
from support.train_fixtures import CLASSES, backbone_digests, write_toy_splits

from ferpipe.core.errors import FerpipeError
from ferpipe.nn.checkpoints import fingerprint
from ferpipe.nn.settings import train_config
from ferpipe.nn.models import BACKBONE_NAME, FEATURES_LAYER, build_model
from ferpipe.nn.pretrained import folder_sha256
from ferpipe.nn.saved import ModelInfo, read_model_info, write_model_folder
from support.train_params import train_params

SOURCE_CLASSES = ["angry", "happy", "neutral", "sad"]  # another database's classes than the toy set's three


def write_source(folder: Path, crop_size: int = 32, **overrides) -> Path:
    """A model folder as the train stage writes it, of an untrained network of `overrides`."""
    keras.utils.set_random_seed(3)
    cfg = train_config(train_params(**overrides))
    model = build_model(cfg, crop_size, len(SOURCE_CLASSES))
    write_model_folder(folder, model, ModelInfo(classes=SOURCE_CLASSES, crop_size=crop_size,
                                                feature_layer=FEATURES_LAYER, config=cfg.as_dict(), precision="float32"))
    return folder


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A ResNet-50 model folder at 32 px (in data/pretrained/ of a stage folder, as dvc.yaml wants it)."""
    return write_source(tmp_path_factory.mktemp("stage") / "data" / "pretrained" / "fer", arch="resnet50")


def test_the_backbone_comes_from_the_source_and_the_head_is_new(source):
    model = build_model(train_config(train_params(arch="resnet50", weights=str(source))), 32, len(CLASSES))
    original = keras.models.load_model(source / "model.keras")
    assert backbone_digests(model.get_layer(BACKBONE_NAME)) == backbone_digests(original.get_layer(BACKBONE_NAME))
    assert model.output.shape[-1] == len(CLASSES) and original.output.shape[-1] == len(SOURCE_CLASSES)
    scratch = build_model(train_config(train_params(arch="resnet50")), 32, len(CLASSES))
    assert backbone_digests(scratch.get_layer(BACKBONE_NAME))["kernels"] != backbone_digests(model.get_layer(BACKBONE_NAME))["kernels"]


def test_batchnorm_of_a_source_is_frozen_as_for_imagenet(source):
    assert train_config(train_params(arch="resnet50", weights=str(source))).batchnorm_frozen


def damaged(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"not a zip")
    (folder / "model.json").write_text('{"classes": ["a", "b"]')
    return folder


@pytest.mark.parametrize("make, input_size, message", [
    (lambda tmp: write_source(tmp / "lenet", arch="lenet"), 32,
     "holds a ferpipe model of arch=lenet; only a ResNet-50's backbone can start a ResNet-50"),
    (lambda tmp: write_source(tmp / "r50", arch="resnet50"), 48,
     "was trained at train.input_size 32, this run's is 48"),
    (lambda tmp: damaged(tmp / "damaged"), 32, "is not a usable ferpipe model folder"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", 32, "no model.keras/model.json; run the train stage"),
])
def test_a_folder_that_cannot_start_this_run_is_one_clear_error(tmp_path, make, input_size, message):
    folder = make(tmp_path)
    with pytest.raises(FerpipeError, match=r"^params\.yaml: weights ") as raised:
        train_config(train_params(arch="resnet50", weights=str(folder), train_input_size=input_size))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_changed_source_is_another_checkpoint(tmp_path):
    folder = write_source(tmp_path / "src", arch="resnet50")
    cfg = train_config(train_params(arch="resnet50", weights=str(folder)))
    arrays = [np.zeros((2, 32, 32), np.uint8)]
    before, digest = fingerprint(cfg, arrays), folder_sha256(folder)
    with open(folder / "model.json", "a") as fh:
        fh.write("\n")
    assert fingerprint(cfg, arrays) != before and folder_sha256(folder) != digest


def train_args(folder: Path) -> list:
    data = folder / "augmented"
    return ["--params", folder / "params.yaml", "--train", data / "train.npz", "--val", data / "val.npz",
            "--model", folder / "model", "--live", folder / "live", "--metrics", folder / "train.json",
            "--checkpoints", folder / "ckpt", "--pretrained", folder / "data" / "pretrained"]


def stage_folder(folder: Path, weights: Path, crop_size: int = 32) -> Path:
    write_toy_splits(folder / "augmented", size=crop_size)
    params = train_params(arch="resnet50", weights=str(weights), epochs=1, batch_size=16, lr=0.01,
                          train_steps_per_epoch=1)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    return folder


@pytest.mark.parametrize("where, crop_size, message", [
    ("outside", 32, "a model folder must lie under"),
    ("inside", 48, "trained on 32x32 crops, these are 48x48: set faces.size to 32"),
])
def test_the_stage_refuses_a_source_outside_its_folder_or_of_another_crop_size(tmp_path, source, where, crop_size,
                                                                                message):
    if where == "inside":
        weights = tmp_path / "data" / "pretrained" / "fer"
        shutil.copytree(source, weights)
    else:
        weights = source
    folder = stage_folder(tmp_path, weights, crop_size)
    done = run_in_process("train", train_args(folder), folder)
    assert done.returncode == 1 and message in done.stderr and done.stderr.count("error:") == 1
    assert not any((folder / p).exists() for p in ("train.json", "model", "live"))


@pytest.mark.slow
def test_the_stage_trains_from_the_source_and_records_it(source):
    folder = stage_folder(source.parents[2], source)
    done = run_in_child("train", train_args(folder), folder)  # the PyTorch loop, beside Keras' torch backend
    assert done.returncode == 0, done.stderr[-3000:]
    recorded = read_model_info(folder / "model").pretrained
    assert recorded.sha256 == folder_sha256(source) and recorded.classes == SOURCE_CLASSES
    assert recorded.path == str(source) and recorded.input_size == 32 and recorded.crop_size == 32
    assert json.loads((folder / "train.json").read_text())["pretrained"] == recorded.model_dump()
    assert read_model_info(folder / "model").classes == CLASSES
