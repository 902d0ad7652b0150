"""The `train` and `evaluate_softmax` stage scripts end to end, on both Keras backends and both
architectures (tiny inputs, a few steps), and their clean failures on bad input."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from train_fixtures import CLASSES, params, write_toy_splits

REPO = Path(__file__).resolve().parents[1]


def stage(name: str, tmp: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    data = tmp / "augmented"
    args = {"train": ["--train", data / "train.npz", "--val", data / "val.npz", "--model", tmp / "model",
                      "--live", tmp / "live", "--metrics", tmp / "train.json", "--checkpoints", tmp / "ckpt"],
            "evaluate_softmax": ["--model", tmp / "model", "--test", data / "test.npz", "--metrics", tmp / "softmax.json",
                                 "--confusion", tmp / "confusion.json", "--predictions", tmp / "predictions.npz"]}[name]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(extra_env or {})}
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py"), "--params", str(tmp / "params.yaml"),
                           *map(str, args)], capture_output=True, text=True, cwd=tmp, env=env, timeout=600)


def setup(tmp: Path, **overrides) -> Path:
    write_toy_splits(tmp / "augmented", n_train=48)
    (tmp / "params.yaml").write_text(yaml.safe_dump(params(**overrides)))
    return tmp


def curve(live: Path, name: str) -> list[float]:
    with open(live / "plots" / "metrics" / f"{name}.tsv") as fh:
        return [float(row[name.split("/")[-1]]) for row in csv.DictReader(fh, delimiter="\t")]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
@pytest.mark.parametrize("arch", ["lenet", "resnet50"])
def test_train_then_evaluate(tmp_path, backend, arch):
    overrides = {"arch": arch, "backend": backend}
    if arch == "resnet50":
        overrides.update(lr=0.01, epochs=2, batch_size=16)
    setup(tmp_path, **overrides)
    done = stage("train", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert metrics["arch"] == arch and metrics["backend"] == backend and 1 <= metrics["best_epoch"] <= metrics["epochs"]
    losses = curve(tmp_path / "live", "train/loss")
    assert len(losses) == metrics["epochs"] and losses[-1] < losses[0]
    assert len(curve(tmp_path / "live", "val/accuracy")) == metrics["epochs"]
    assert json.loads((tmp_path / "model" / "model.json").read_text())["classes"] == CLASSES
    assert not (tmp_path / "ckpt").exists()

    done = stage("evaluate_softmax", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    softmax = json.loads((tmp_path / "softmax.json").read_text())
    with np.load(tmp_path / "predictions.npz") as pred:
        assert pred["probabilities"].shape == (15, 3) and list(pred["ids"]) == list(range(3000, 3015))
        np.testing.assert_allclose(pred["probabilities"].sum(axis=1), 1, rtol=1e-4)
        assert softmax["accuracy"] == pytest.approx(float((pred["predicted"] == pred["labels"]).mean()))
    rows = json.loads((tmp_path / "confusion.json").read_text())
    assert len(rows) == 15 and set(rows[0]) == {"actual", "predicted"}
    assert set(softmax["per_class"]) == set(CLASSES)


@pytest.mark.parametrize("overrides, message", [
    ({"lr": 0}, "error: lr must be a number > 0"),
    ({"arch": "alexnet"}, "error: arch must be one of"),
    ({"pool_size": [30, 30]}, "error: pool_size=[30, 30] is larger than the 28x28 feature map"),
    ({"arch": "resnet50", "weights": "missing.h5"}, "error: weights='missing.h5': no such weights file"),
])
def test_bad_input_fails_cleanly_without_outputs(tmp_path, overrides, message):
    setup(tmp_path, **overrides)
    (tmp_path / "train.json").write_text("{}")  # a stale output must not survive a failed run
    done = stage("train", tmp_path)
    assert done.returncode == 1 and message in done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert not any((tmp_path / p).exists() for p in ("train.json", "model", "live"))


def test_evaluate_without_model_fails_cleanly(tmp_path):
    setup(tmp_path)
    done = stage("evaluate_softmax", tmp_path)
    assert done.returncode == 1 and "run the train stage" in done.stderr
    assert not (tmp_path / "softmax.json").exists()
