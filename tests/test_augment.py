"""The `augment` stage: factor x train, seeded and deterministic, each transform does what its
parameter says, val/test untouched and never in the training data, no torch, clean failures."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.builders import array_stage_outputs, assert_failed_cleanly, plant_stale, run_array_stage

from ferpipe.augment.folder import augment_folder
from ferpipe.augment.settings import AugmentSettings
from ferpipe.augment.transforms import augment
from ferpipe.core.errors import FerpipeError
from ferpipe.data.arrays import load_split, save_split
from ferpipe.data.pixels import pixel_hash

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["a", "b", "c"]
AUGMENT = {"seed": 0, "factor": 12, "flip": 0.5, "brightness": 0.2, "contrast": 0.2, "crop": 0.85, "shift": 0.05,
           "rotation": 10}
IDENTITY = {"flip": 0.0, "brightness": 0.0, "contrast": 0.0, "crop": 1.0, "shift": 0.0, "rotation": 0.0}


def settings(**overrides) -> AugmentSettings:
    return AugmentSettings.from_params({"augment": {**AUGMENT, **overrides}})


def faces(n: int, seed: int, size: int = 24) -> np.ndarray:
    """Smooth random grey images (blurred noise), distinct from one another."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, size // 4, size // 4)).astype(np.float64)
    return np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2).astype(np.uint8)


def write_faces(folder: Path, n_train: int = 10) -> Path:
    folder.mkdir(parents=True)
    ids = iter(range(1000))
    for split, n, seed in (("train", n_train, 1), ("val", 4, 2), ("test", 5, 3)):
        save_split(folder / f"{split}.npz", faces(n, seed), np.arange(n) % len(CLASSES), [next(ids) for _ in range(n)],
                   CLASSES)
    return folder


def test_count_is_factor_times_train_and_labels_follow_sources(tmp_path):
    src = write_faces(tmp_path / "faces")
    report, images, _ = augment_folder(src, tmp_path / "out", settings(factor=5))
    train_in, train_out = load_split(src / "train.npz"), load_split(tmp_path / "out" / "train.npz")
    assert report["train_out"] == len(train_out["images"]) == 5 * len(train_in["images"])
    assert np.array_equal(train_out["images"], images)
    assert np.array_equal(train_out["images"][:10], train_in["images"])  # the originals come first, untouched
    assert np.array_equal(train_out["ids"], np.tile(train_in["ids"], 5))
    assert np.array_equal(train_out["labels"], np.tile(train_in["labels"], 5))
    assert len({pixel_hash(img) for img in train_out["images"]}) == len(train_out["images"])  # variants differ


def test_deterministic_for_a_seed():
    images = faces(6, seed=1)
    first, second, other = (augment(images, settings(seed=s))[0] for s in (7, 7, 8))
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_factor_one_is_the_training_set_itself():
    images = faces(4, seed=1)
    assert np.array_equal(augment(images, settings(factor=1))[0], images)


def test_identity_settings_copy_and_flip_mirrors():
    images = faces(4, seed=1)
    out, original, _ = augment(images, settings(**IDENTITY, factor=3))
    assert np.array_equal(out, images[original])
    out, original, _ = augment(images, settings(**{**IDENTITY, "flip": 1.0}, factor=3))
    assert np.array_equal(out[4:], images[original[4:], :, ::-1])


def test_brightness_and_contrast_change_tone_not_geometry():
    images = np.full((3, 24, 24), 100, dtype=np.uint8)
    images[:, :, 12:] = 140
    out, _, v = augment(images, settings(**{**IDENTITY, "brightness": 0.2, "contrast": 0.3}, factor=4))
    variants = out[3:].astype(float)
    means = variants.mean(axis=(1, 2))
    assert np.allclose(means, 120 + v.offset, atol=1)
    assert np.allclose(variants[:, 0, 20] - variants[:, 0, 0], 40 * v.gain, atol=1.01)


def test_val_and_test_untouched_and_never_in_training(tmp_path):
    src = write_faces(tmp_path / "faces")
    report, images, _ = augment_folder(src, tmp_path / "out", settings())
    for split in ("val", "test"):
        assert (tmp_path / "out" / f"{split}.npz").read_bytes() == (src / f"{split}.npz").read_bytes()
    evaluation = {pixel_hash(img) for split in ("val", "test") for img in load_split(src / f"{split}.npz")["images"]}
    assert not evaluation & {pixel_hash(img) for img in images}
    assert report["eval_copies_in_train"] == 0


def test_leak_audit_counts_a_planted_copy(tmp_path):
    src = write_faces(tmp_path / "faces")
    val = load_split(src / "val.npz")
    train = load_split(src / "train.npz")
    val["images"][0] = train["images"][3]
    save_split(src / "val.npz", val["images"], val["labels"], val["ids"], list(val["classes"]))
    report, images, _ = augment_folder(src, tmp_path / "out", settings(**IDENTITY, factor=3))
    assert report["eval_copies_in_train"] == 3 == sum(np.array_equal(img, train["images"][3]) for img in images)


def _arrays(path: Path, **replace) -> None:
    arrays = {"images": np.zeros((2, 8, 8), np.uint8), "labels": np.array([0, 1]), "ids": np.array([5, 6]),
              "classes": np.array(CLASSES), **replace}
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _single_npy(path: Path) -> None:
    np.save(path.with_suffix(".npy"), np.zeros(3))
    path.with_suffix(".npy").rename(path)


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b""), "not a readable .npz split file"),
    (_single_npy, "a single .npy array"),
    (lambda p: _arrays(p, classes=np.array(["a", None], dtype=object)), "not a readable .npz split file"),
    (lambda p: _arrays(p, labels=np.array([0, 1, 2])), "labels must be 2 integers"),
    (lambda p: _arrays(p, ids=np.array([0.5, 1.5])), "ids must be 2 integers"),
    (lambda p: _arrays(p, images=np.zeros((2, 8, 8), np.float32)), "uint8 square crops"),
    (lambda p: _arrays(p, labels=np.array([0, -1])), "label -1 is outside the class range 0..2"),
])
def test_load_split_names_the_file_of_a_damaged_split(tmp_path, write, message):
    path = tmp_path / "val.npz"
    write(path)
    with pytest.raises(FerpipeError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        load_split(path)


@pytest.mark.parametrize("key, value", [("factor", 0), ("factor", 1.5), ("flip", 1.2), ("crop", 0.0),
                                        ("rotation", -1), ("seed", "x")])
def test_bad_settings_name_the_parameter(key, value):
    with pytest.raises(FerpipeError, match=f"augment.{key}"):
        settings(**{key: value})


def test_unknown_or_missing_key_is_an_error():
    with pytest.raises(FerpipeError, match="augment.fator"):
        AugmentSettings.from_params({"augment": {**AUGMENT, "fator": 3}})
    with pytest.raises(FerpipeError, match="augment.shift"):
        AugmentSettings.from_params({"augment": {k: v for k, v in AUGMENT.items() if k != "shift"}})


def test_does_not_import_torch():
    code = "import sys, ferpipe.augment.transforms; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def run_stage(tmp_path: Path, augment_params: dict):
    params = {"augment": augment_params, "faces": {"ignored": True}}
    return run_array_stage("augment", params, tmp_path, "--faces", tmp_path / "faces", "augmented")


def test_stage_end_to_end(tmp_path):
    write_faces(tmp_path / "faces")
    plant_stale(array_stage_outputs("augment", tmp_path, "augmented"))
    proc, (out, metrics, plot) = run_stage(tmp_path, AUGMENT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(metrics.read_text())["train_out"] == 120
    assert plot.stat().st_size > 0
    assert sorted(p.name for p in out.iterdir()) == ["test.npz", "train.npz", "val.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ferpipe-outputs", "augment.json", "augment.png",
                                                          "augmented", "faces", "params.yaml"]


def test_stage_bad_factor_fails_with_no_outputs(tmp_path):
    write_faces(tmp_path / "faces")
    outs = array_stage_outputs("augment", tmp_path, "augmented")
    plant_stale(outs)
    proc, _ = run_stage(tmp_path, {**AUGMENT, "factor": 0})
    assert_failed_cleanly(proc, "augment.factor", outs)


@pytest.mark.parametrize("damage, message", [
    (lambda path: path.write_bytes(b"garbage"), "not a readable .npz split file"),
    (lambda path: save_split(path, np.zeros((2, 24, 20)), [0, 1], [0, 1], CLASSES), "square"),
    (lambda path: save_split(path, np.zeros((2, 24, 24)), [0, 3], [0, 1], CLASSES), "label 3 is outside"),
])
def test_stage_damaged_split_file_fails_naming_it(tmp_path, damage, message):
    damage(write_faces(tmp_path / "faces") / "val.npz")
    proc, outs = run_stage(tmp_path, AUGMENT)
    assert_failed_cleanly(proc, f"{tmp_path / 'faces' / 'val.npz'}: ", outs)
    assert message in proc.stderr
