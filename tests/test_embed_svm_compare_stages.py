"""The `embed`, `svm` and `compare` stage scripts end to end after a tiny LeNet (`train`,
`evaluate_softmax`), and on hand-crafted features without any model; the `embed` parameters and its
clean failures."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.stage_imports import REPO
from support.stage_runs import run_in_process
from support.svm_fixtures import COMPARE_PARAMS, SVM_PARAMS
from support.train_fixtures import CLASSES, write_toy_splits

from ferpipe.core.outputs import record_written
from ferpipe.core.errors import FerpipeError
from ferpipe.core.params import load_params
from ferpipe.data.arrays import load_split, save_split
from ferpipe.eval.predictions import save_predictions
from ferpipe.features.settings import EmbedSettings
from ferpipe.features.files import load_embedding_splits, load_embeddings
from ferpipe.eval.plots import project_2d
from support.train_params import train_params

EMBED_PARAMS = load_params(REPO / "params.yaml")["embed"]  # features: network


def stage_args(tmp: Path) -> dict[str, list]:
    faces, augmented, pred = tmp / "faces", tmp / "augmented", tmp / "predictions"
    return {
        "train": ["--train", augmented / "train.npz", "--val", augmented / "val.npz", "--model", tmp / "model",
                  "--live", tmp / "live", "--metrics", tmp / "train.json", "--checkpoints", tmp / "ckpt"],
        "evaluate_softmax": ["--model", tmp / "model", "--test", augmented / "test.npz", "--metrics", tmp / "softmax.json",
                             "--confusion", tmp / "softmax_confusion.json", "--predictions", pred / "softmax_test.npz"],
        "embed": ["--model", tmp / "model", "--faces", faces, "--augmented-train", augmented / "train.npz",
                  "--out", tmp / "embeddings", "--plot", tmp / "embeddings_2d.png"],
        "svm": ["--embeddings", tmp / "embeddings", "--model", tmp / "svm" / "model.skops", "--metrics", tmp / "svm.json",
                "--grid", tmp / "svm_grid.json", "--confusion", tmp / "svm_confusion.json",
                "--predictions", pred / "svm_test.npz"],
        "compare": ["--softmax", pred / "softmax_test.npz", "--svm", pred / "svm_test.npz",
                    "--metrics", tmp / "compare.json", "--plot", tmp / "compare_recall.png"],
    }


def stage(name: str, tmp: Path) -> subprocess.CompletedProcess:
    return run_in_process(name, ["--params", tmp / "params.yaml", *stage_args(tmp)[name]], tmp)


def setup(tmp: Path, **embed_overrides) -> Path:
    """Original crops in faces/, the 'augmented' set in augmented/ (train doubled, so the two differ)."""
    write_toy_splits(tmp / "faces", n_train=48)
    write_toy_splits(tmp / "augmented", n_train=48)
    train = load_split(tmp / "faces" / "train.npz")
    save_split(tmp / "augmented" / "train.npz", np.concatenate([train["images"], train["images"][:, :, ::-1]]),
               np.tile(train["labels"], 2), np.tile(train["ids"], 2), CLASSES)
    all_params = {**train_params(), "embed": {**EMBED_PARAMS, **embed_overrides},
                  "svm": {**SVM_PARAMS, "C": [1, 10, 100]}, "compare": COMPARE_PARAMS}
    (tmp / "params.yaml").write_text(yaml.safe_dump(all_params))
    return tmp


@pytest.mark.slow
def test_train_evaluate_embed_svm_compare(tmp_path):
    setup(tmp_path)
    for name in ("train", "evaluate_softmax", "embed", "svm", "compare"):
        done = stage(name, tmp_path)
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
    for split, n, seed in (("train", 48, 1), ("val", 12, 2), ("test", 15, 3)):
        emb = load_embeddings(tmp_path / "embeddings" / f"{split}.npz")
        assert emb["features"].shape == (n, 500) and emb["features"].dtype == np.float32  # LeNet's hidden layer
        assert list(emb["ids"]) == list(np.arange(n) + 1000 * seed) and list(emb["classes"]) == CLASSES
    assert (tmp_path / "embeddings_2d.png").read_bytes()[:4] == b"\x89PNG"
    svm = json.loads((tmp_path / "svm.json").read_text())
    assert svm["features"] == 500 and svm["n"] == 15 and svm["C"] in (1, 10, 100)
    report = json.loads((tmp_path / "compare.json").read_text())
    softmax = json.loads((tmp_path / "softmax.json").read_text())
    assert report["n"] == 15 and report["softmax_accuracy"] == pytest.approx(softmax["accuracy"])
    assert report["svm_accuracy"] == pytest.approx(svm["accuracy"])
    assert report["bootstrap_ci95_low"] <= report["accuracy_difference"] <= report["bootstrap_ci95_high"]
    assert (tmp_path / "compare_recall.png").is_file()

    # train_source: augmented embeds the other training file (twice the rows)
    setup(tmp_path, train_source="augmented", projection="tsne")
    done = stage("embed", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_embeddings(tmp_path / "embeddings" / "train.npz")["features"].shape == (96, 500)


@pytest.mark.parametrize("overrides, message", [
    ({"train_source": "both"}, "embed.train_source must be one of original, augmented"),
    ({"projection": "umap"}, "embed.projection must be one of pca, tsne"),
])
def test_embed_params_are_checked(overrides, message):
    with pytest.raises(FerpipeError, match=message):
        EmbedSettings.from_params({"embed": {**EMBED_PARAMS, **overrides}})


def write_stripe_splits(folder: Path) -> None:
    """Crops whose class is the direction of their stripes (horizontal, vertical, diagonal), at a random
    phase, period and brightness, with noise: a texture that LBP and HOG tell apart."""
    folder.mkdir(parents=True)
    rows, cols = np.mgrid[0:32, 0:32]
    for split, n, seed in (("train", 48, 1), ("val", 12, 2), ("test", 15, 3)):
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % len(CLASSES)
        images = []
        for label in labels:
            along = (rows, cols, rows + cols)[label]
            wave = np.sin(2 * np.pi * along / rng.uniform(5, 8) + rng.uniform(0, 2 * np.pi))
            images.append(np.clip(rng.uniform(60, 190) + 50 * wave + rng.normal(0, 8, (32, 32)), 0, 255))
        save_split(folder / f"{split}.npz", np.array(images).astype(np.uint8), labels, np.arange(n) + 1000 * seed, CLASSES)


@pytest.mark.parametrize("kind, dims", [("lbp", 6 * 6 * 59), ("hog", 3 * 3 * 2 * 2 * 9)])
def test_handcrafted_features_need_no_model_and_svm_and_compare_run_on_them(tmp_path, kind, dims):
    write_stripe_splits(tmp_path / "faces")
    params = {"backend": "tensorflow", "embed": {**EMBED_PARAMS, "features": kind},
              "svm": {**SVM_PARAMS, "C": [1, 10]}, "compare": COMPARE_PARAMS}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for name in ("embed", "svm"):  # no model/ folder: with lbp or hog, embed reads none
        done = stage(name, tmp_path)
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
    splits = load_embedding_splits(tmp_path / "embeddings")
    assert {s: d["features"].shape for s, d in splits.items()} == {"train": (48, dims), "val": (12, dims),
                                                                  "test": (15, dims)}
    assert list(splits["test"]["classes"]) == CLASSES
    assert json.loads((tmp_path / "svm.json").read_text())["accuracy"] >= 0.8  # chance: 1/3
    # compare sets the SVM on these features against another classifier's predictions of the same images
    test = load_split(tmp_path / "faces" / "test.npz")
    save_predictions(tmp_path / "predictions" / "softmax_test.npz", np.zeros(15), test["labels"], test["ids"], CLASSES)
    done = stage("compare", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "compare.json").read_text())
    assert report["n"] == 15 and report["softmax_accuracy"] == pytest.approx(5 / 15)


def test_embed_without_model_fails_cleanly_without_outputs(tmp_path):
    setup(tmp_path)
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "train.npz").write_text("stale")
    record_written(tmp_path, ["embeddings"])  # as the earlier run that wrote it left it
    done = stage("embed", tmp_path)
    assert done.returncode == 1 and "run the train stage" in done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "embeddings").exists() and not (tmp_path / "embeddings_2d.png").exists()


def test_projection_is_seeded():
    x = np.random.default_rng(0).normal(size=(60, 20))
    for method in ("pca", "tsne"):
        first = project_2d(x, method, seed=3)
        assert first.shape == (60, 2) and np.array_equal(first, project_2d(x, method, seed=3))
