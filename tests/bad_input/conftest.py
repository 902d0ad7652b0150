"""The tiny untrained network of `support.tiny_model` and the test split it fits, for the bad-input
tests of the stages that read a model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.tiny_model import CROP, save_tiny_model
from support.train_fixtures import write_toy_splits


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A folder with model/ (3 classes, 32 px crops) and splits/{train,val,test}.npz that fit it."""
    folder = tmp_path_factory.mktemp("tiny")
    save_tiny_model(folder / "model")
    write_toy_splits(folder / "splits", size=CROP)
    return folder


@pytest.fixture
def model_copy(tiny, tmp_path) -> Path:
    """A copy of the tiny model folder that a test may damage."""
    return Path(shutil.copytree(tiny / "model", tmp_path / "model"))
