"""The evaluate_softmax stage on a damaged model folder or test split, or bad params: one `error:`
line naming the file or the params file given, and no outputs (stale ones included)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from support.builders import assert_failed_cleanly, plant_stale, run_script
from support.tiny_model import save_tiny_model
from support.train_fixtures import CLASSES, write_toy_splits
from support.train_params import train_params

from ferpipe.data.arrays import save_split


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """model/, a tiny network of 32 px crops saved as the train stage saves one, and augmented/, the toy
    splits it fits: untrained, since these tests check what the stage does with the files, not how well
    the network does (the fast loop trains no network)."""
    tmp = tmp_path_factory.mktemp("trained")
    write_toy_splits(tmp / "augmented", n_train=24)
    save_tiny_model(tmp / "model")
    return tmp


def evaluate(tmp: Path, model: Path, test: Path, stage_params: dict, params_file: str = "params.yaml"):
    outs = [tmp / "softmax.json", tmp / "confusion.json", tmp / "predictions.npz"]
    plant_stale(outs)
    proc = run_script("evaluate_softmax", stage_params, tmp, "--model", model, "--test", test, "--metrics", outs[0],
                      "--confusion", outs[1], "--predictions", outs[2], params_file=params_file)
    return proc, outs


def test_evaluates_the_trained_model(tmp_path, trained):
    proc, outs = evaluate(tmp_path, trained / "model", trained / "augmented" / "test.npz", train_params())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(p.exists() for p in outs) and not list(tmp_path.glob(".*.tmp-*"))


def test_bad_json_in_model_json(tmp_path, trained):
    model = shutil.copytree(trained / "model", tmp_path / "model")
    (model / "model.json").write_text('{"classes": ["dark", "mid"')
    proc, outs = evaluate(tmp_path, model, trained / "augmented" / "test.npz", train_params())
    assert_failed_cleanly(proc, f"{model / 'model.json'}: not valid JSON", outs)


def test_test_crops_of_another_size_than_the_models(tmp_path, trained):
    test = tmp_path / "test.npz"
    save_split(test, np.zeros((3, 24, 24), np.uint8), [0, 1, 2], [7, 8, 9], CLASSES)
    proc, outs = evaluate(tmp_path, trained / "model", test, train_params())
    assert_failed_cleanly(proc, f"{test}: crops of shape (24, 24) do not fit the model, which takes 32x32", outs)


def test_garbage_test_split(tmp_path, trained):
    test = tmp_path / "test.npz"
    test.write_bytes(b"\x00garbage")
    proc, outs = evaluate(tmp_path, trained / "model", test, train_params())
    assert_failed_cleanly(proc, f"{test}: not a readable .npz split file", outs)


def test_bad_backend_names_the_params_file_given(tmp_path, trained):
    proc, outs = evaluate(tmp_path, trained / "model", trained / "augmented" / "test.npz", train_params(backend="jax"),
                          params_file="other.yaml")
    assert_failed_cleanly(proc, f"{tmp_path / 'other.yaml'}: backend", outs)
