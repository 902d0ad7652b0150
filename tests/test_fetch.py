"""The fetch stage: loaders for each layout, splits, audit, bad input, all-or-nothing outputs."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.builders import (assert_failed_cleanly, leftovers, plant_stale, run_script, write_ckplus, write_ckplus_sequences,
                      write_fer_csv, write_fer_folders, write_genki)
from PIL import Image

from ferpipe.core.errors import FerpipeError
from ferpipe.core.outputs import staged_outputs
from ferpipe.data.dataset import SPLITS, Dataset
from ferpipe.data.fetch import run_fetch
from ferpipe.data.settings import FetchSettings
from ferpipe.data.sources import ckplus, fer2013
from ferpipe.data.splits import kfold_split, subject_split

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def params_for(dataset: str, source=None, **fetch) -> dict:
    params = copy.deepcopy({k: PARAMS[k] for k in ("dataset", "sources", "fetch")})
    params["dataset"] = dataset
    if source is not None:
        params["sources"][dataset] = str(source)
    params["fetch"].update(fetch)
    return params


def fetch(tmp_path: Path, params: dict) -> tuple[dict, Dataset]:
    """What the stage does, in process: settings checked and outputs written all-or-nothing."""
    out, metrics_path = tmp_path / "out" / "dataset", tmp_path / "out" / "data.json"
    with staged_outputs(out, metrics_path) as (tmp_out, tmp_metrics):
        metrics = run_fetch(FetchSettings.from_params(params), tmp_out, tmp_metrics)
    return metrics, Dataset(out)


def test_fer_csv_keeps_pixels_labels_and_usage_splits(tmp_path):
    rows = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 3, "PublicTest": 2, "PrivateTest": 1})
    metrics, ds = fetch(tmp_path, params_for("fer2013", tmp_path / "fer2013.csv", drop_train_copies=False))
    assert ds.classes == fer2013.CLASSES
    assert [metrics["counts"][s]["total"] for s in ("train", "val", "test")] == [21, 14, 7]
    for i, (label, usage, img) in enumerate(rows):
        assert ds.labels[i] == label
        assert ds.splits[i] == fer2013.USAGE_TO_SPLIT[usage]
        np.testing.assert_array_equal(ds.image(i), img)


def test_fer_folders_map_public_to_val_and_private_to_test(tmp_path):
    write_fer_folders(tmp_path / "kaggle" / "fer2013", train=2, public=1, private=3)
    # the root is found one level down, as archives often unpack into a sub-folder
    metrics, ds = fetch(tmp_path, params_for("fer2013", tmp_path / "kaggle", drop_train_copies=False))
    assert {s: metrics["counts"][s]["total"] for s in ("train", "val", "test")} == {"train": 14, "val": 7, "test": 21}
    assert all(metrics["counts"]["test"][c] == 3 for c in fer2013.CLASSES)
    sources = [r["origin"] for r in ds.rows]
    assert all(s.startswith("test/") and "PrivateTest_" in s for s, sp in zip(sources, ds.splits) if sp == "test")
    assert ds.image(0).shape == (48, 48)


def test_ckplus_subject_protocol_keeps_each_subject_in_one_split(tmp_path):
    write_ckplus(tmp_path / "CK+48", {c: 12 for c in ckplus.CLASSES}, subjects=12)
    metrics, ds = fetch(tmp_path, params_for("ckplus", tmp_path / "CK+48", ckplus_protocol="subject"))
    by_split = {s: {r["subject"] for r in ds.rows if r["split"] == s} for s in ("train", "val", "test")}
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])
    assert metrics["audit"]["subjects_in_several_splits"] == 0
    assert ds.classes == ckplus.CLASSES


# CK+48's sequences per class; 123 subjects (contempt is spread over only 18 of them)
CK_SEQUENCES = {"anger": 45, "contempt": 18, "disgust": 59, "fear": 25, "happy": 69, "sadness": 28, "surprise": 83}


@pytest.fixture(scope="module")
def ck_like(tmp_path_factory) -> Path:
    return write_ckplus_sequences(tmp_path_factory.mktemp("ck") / "CK+48", CK_SEQUENCES, subjects=123)


def labels_and_subjects(root: Path) -> tuple[np.ndarray, np.ndarray]:
    items = ckplus.scan(root)
    return np.array([label for label, _, _ in items]), np.array([subject for _, subject, _ in items])


def test_ckplus_subject_split_puts_every_class_in_every_split_for_any_seed(ck_like):
    # Unstratified, a seeded draw of 12 test subjects missed all 18 contempt subjects for 24 of 200 seeds.
    labels, subjects = labels_and_subjects(ck_like)
    for seed in range(200):
        splits = subject_split(subjects, labels, 0.1, 0.1, seed)
        for split in SPLITS:
            assert set(labels[splits == split]) == set(labels), f"seed {seed}: a class is missing from {split}"
        assert all(len(set(splits[subjects == s])) == 1 for s in set(subjects)), f"seed {seed}: a subject is split"
        assert 0.07 < np.mean(splits == "test") < 0.13 and 0.07 < np.mean(splits == "val") < 0.13


def test_ckplus_subject_protocol_reports_every_class_in_every_split(tmp_path, ck_like):
    metrics, ds = fetch(tmp_path, params_for("ckplus", ck_like, ckplus_protocol="subject", seed=3))
    assert ds.classes == ckplus.CLASSES
    for split in SPLITS:
        assert all(metrics["counts"][split][c] >= 3 for c in ckplus.CLASSES), metrics["counts"][split]
    assert metrics["audit"]["subjects_in_several_splits"] == 0


def test_subject_folds_keep_subjects_whole_cover_every_image_once_and_keep_class_proportions(ck_like):
    labels, subjects = labels_and_subjects(ck_like)
    for k in (3, 5, 10):
        for seed in range(3):
            splits = np.array([kfold_split(labels, subjects, k, i, 0.1, seed) for i in range(k)])
            tests = splits == "test"
            assert (tests.sum(axis=0) == 1).all(), "every image is in exactly one test fold"
            for s in set(subjects):
                assert len({tuple(column) for column in splits[:, subjects == s].T}) == 1, f"subject {s} is split"
            per_fold = np.array([np.bincount(labels[t], minlength=len(CK_SEQUENCES)) for t in tests])
            # a subject brings its 3 frames of a class to one fold: counts differ by one subject at most
            assert (per_fold.max(axis=0) - per_fold.min(axis=0) <= 3).all(), (k, seed, per_fold)
            for row in splits:
                assert set(labels[row == "val"]) == set(labels)
                assert 0.07 < np.mean(row == "val") / np.mean(row != "test") < 0.13


def test_image_folds_keep_class_proportions_exactly():
    labels = np.repeat([0, 1, 2], [23, 41, 7])
    for k in (2, 5, 7):
        splits = np.array([kfold_split(labels, None, k, i, 0.2, seed=1) for i in range(k)])
        tests = splits == "test"
        assert (tests.sum(axis=0) == 1).all()
        per_fold = np.array([np.bincount(labels[t], minlength=3) for t in tests])
        assert (per_fold.max(axis=0) - per_fold.min(axis=0) <= 1).all(), per_fold


def test_fetch_folds_on_ckplus_genki_and_demo(tmp_path, ck_like):
    write_genki(tmp_path / "g", n=40)
    cases = [("ckplus", ck_like, 3, "subject"), ("genki4k", tmp_path / "g", 4, "image"),
             ("demo", None, 3, "subject")]
    for dataset, source, k, grouped_by in cases:
        test_sources = []
        for i in range(k):
            params = params_for(dataset, source, folds=k, fold=i)
            params["fetch"]["demo"] = {"per_class": 6, "size": 32}
            metrics, ds = fetch(tmp_path / f"{dataset}{i}", params)
            assert metrics["folds"] == {"k": k, "fold": i, "grouped_by": grouped_by}
            if grouped_by == "subject":
                assert metrics["audit"]["subjects_in_several_splits"] == 0
            test_sources += [r["origin"] for r in ds.rows if r["split"] == "test"]
        assert sorted(test_sources) == sorted(r["origin"] for r in ds.rows), f"{dataset}: one test fold per image"


@pytest.mark.parametrize("dataset, fetch_params, message", [
    ("demo", {"folds": 1}, "fetch.folds must be 0 (no k-fold) or k >= 2"),
    ("demo", {"folds": -2}, "fetch.folds must be an integer in [0, 100]"),
    ("demo", {"folds": 3, "fold": 3}, "fetch.fold must be in 0..2"),
    ("demo", {"folds": 0, "fold": 1}, "fetch.fold = 1 needs k-fold"),
    ("fer2013", {"folds": 5}, "fer2013 has an official split"),
    ("ckplus", {"folds": 5, "ckplus_protocol": "paper"}, "k-fold is refused"),
    ("ckplus", {"folds": 13}, "fetch.folds = 13 is more than the 12 subjects of ckplus"),
    ("genki4k", {"folds": 11}, "fetch.folds = 11 is more than the 10 images of class 'non_smile'"),
])
def test_bad_folds_are_named(tmp_path, dataset, fetch_params, message):
    sources = {"ckplus": write_ckplus(tmp_path / "ck", {c: 12 for c in ckplus.CLASSES}, subjects=12),
               "genki4k": write_genki(tmp_path / "g", n=20), "fer2013": tmp_path / "g", "demo": None}
    with pytest.raises(FerpipeError, match="params.yaml: .*" + re.escape(message)):
        fetch(tmp_path, params_for(dataset, sources[dataset], **fetch_params))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ckplus_paper_protocol_draws_56_7_7_per_class_and_drops_small_classes(tmp_path):
    counts = {c: 75 for c in ckplus.CLASSES}
    counts["contempt"] = 54
    write_ckplus(tmp_path / "ck", counts, subjects=15)
    metrics, ds = fetch(tmp_path, params_for("ckplus", tmp_path / "ck", ckplus_protocol="paper"))
    assert "contempt" not in ds.classes and len(ds.classes) == 6
    for cls in ds.classes:
        assert [metrics["counts"][s][cls] for s in ("train", "val", "test")] == [56, 7, 7]
    assert metrics["audit"]["subjects_in_several_splits"] > 0  # the leak this protocol has


def test_genki_reads_colour_photos_with_stratified_split(tmp_path):
    write_genki(tmp_path / "GENKI-4K", n=40)
    metrics, ds = fetch(tmp_path, params_for("genki4k", tmp_path / "GENKI-4K"))
    assert ds.classes == ["non_smile", "smile"]
    assert len(ds) == 40 and ds.image(0).ndim == 3 and ds.image(0).shape[2] == 3
    for split in ("val", "test"):
        assert metrics["counts"][split]["smile"] >= 1 and metrics["counts"][split]["non_smile"] >= 1
    # label N belongs to fileN: odd numbers were written as smiles
    for row in ds.rows:
        number = int(Path(row["origin"]).stem.removeprefix("file"))
        assert int(row["label"]) == number % 2


def test_splits_are_seeded(tmp_path):
    write_genki(tmp_path / "g", n=40)
    a = fetch(tmp_path / "a", params_for("genki4k", tmp_path / "g", seed=1))[1].splits
    b = fetch(tmp_path / "b", params_for("genki4k", tmp_path / "g", seed=1))[1].splits
    c = fetch(tmp_path / "c", params_for("genki4k", tmp_path / "g", seed=2))[1].splits
    assert (a == b).all() and (a != c).any()


def test_audit_finds_cross_split_copies_and_label_conflicts_and_drops_train_copies(tmp_path):
    root = write_fer_folders(tmp_path / "fer", train=2, public=1, private=1)
    val_file = next((root / "test" / "happy").glob("PublicTest_*"))
    # a train copy of a val image, and the same image again in train under another label
    Image.open(val_file).save(root / "train" / "happy" / "Training_copy1.png")
    Image.open(val_file).save(root / "train" / "sad" / "Training_copy2.png")
    params = params_for("fer2013", root, drop_train_copies=False)
    metrics, _ = fetch(tmp_path, params)
    assert metrics["audit"]["val_images_with_copy_in_train"] == 1
    assert metrics["audit"]["conflicting_label_groups"] == 1
    assert metrics["audit"]["conflicting_label_groups_within_train"] == 1
    assert metrics["counts"]["train"]["total"] == 16
    params["fetch"]["drop_train_copies"] = True
    metrics, _ = fetch(tmp_path, params)
    assert metrics["train_copies_dropped"] == 2 and metrics["counts"]["train"]["total"] == 14


def test_content_hash_changes_with_pixels_and_not_with_file_order(tmp_path):
    write_genki(tmp_path / "g", n=20)
    first = fetch(tmp_path / "a", params_for("genki4k", tmp_path / "g"))[0]["content_hash"]
    again = fetch(tmp_path / "b", params_for("genki4k", tmp_path / "g"))[0]["content_hash"]
    write_genki(tmp_path / "g", n=20, seed=5)
    other = fetch(tmp_path / "c", params_for("genki4k", tmp_path / "g"))[0]["content_hash"]
    assert first == again != other


def test_environment_variable_overrides_the_source_param(tmp_path, monkeypatch):
    write_fer_csv(tmp_path / "fer2013.csv", {"Training": 1, "PublicTest": 1, "PrivateTest": 1})
    monkeypatch.setenv("FERPIPE_SOURCE_FER2013", str(tmp_path / "fer2013.csv"))
    metrics, _ = fetch(tmp_path, params_for("fer2013", "/nonexistent/path"))
    assert metrics["counts"]["train"]["total"] == 7


# --- bad input: one clear error naming the file or parameter, and no outputs ---------------------

def _corrupt(root: Path) -> str:
    target = next((root / "train" / "angry").glob("*.jpg"))
    target.write_bytes(b"not an image at all")
    return target.name


def _truncated(root: Path) -> str:
    target = next((root / "train" / "fear").glob("*.jpg"))
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target.name


def _empty_class(root: Path) -> str:
    for f in (root / "train" / "sad").iterdir():
        f.unlink()
    return "sad"


def _unknown_class(root: Path) -> str:
    (root / "train" / "bored").mkdir()
    return "bored"


@pytest.mark.parametrize("damage", [_corrupt, _truncated, _empty_class, _unknown_class])
def test_bad_fer_folders_fail_naming_the_file(tmp_path, damage):
    root = write_fer_folders(tmp_path / "fer")
    named = damage(root)
    with pytest.raises(FerpipeError, match=named):
        fetch(tmp_path, params_for("fer2013", root))
    assert not (tmp_path / "out" / "dataset").exists() and not (tmp_path / "out" / "data.json").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("emotion,pixels,Usage", "label,pixels,Usage"), "expected columns"),
    (lambda text: text.replace("\n0,", "\n0,12 ", 1), "2304"),
    (lambda text: text.replace("\n3,", "\n9,", 1), "out of range"),
    (lambda text: text.replace("PublicTest", "Validation", 1), "Usage"),
])
def test_bad_fer_csv_fails_naming_the_line(tmp_path, edit, message):
    path = tmp_path / "fer2013.csv"
    write_fer_csv(path, {"Training": 1, "PublicTest": 1, "PrivateTest": 1})
    path.write_text(edit(path.read_text()))
    with pytest.raises(FerpipeError, match=message) as err:
        fetch(tmp_path, params_for("fer2013", path))
    assert "fer2013.csv" in str(err.value)


def test_genki_label_count_mismatch_fails(tmp_path):
    write_genki(tmp_path / "g", n=10, extra_label_lines=2)
    with pytest.raises(FerpipeError, match=r"labels.txt: 12 label lines but 10 images"):
        fetch(tmp_path, params_for("genki4k", tmp_path / "g"))


def test_unknown_dataset_missing_source_and_bad_param_are_named(tmp_path):
    with pytest.raises(FerpipeError, match="dataset must be one of"):
        fetch(tmp_path, params_for("affectnet"))
    with pytest.raises(FerpipeError, match="sources.ckplus is not set"):
        fetch(tmp_path, params_for("ckplus"))
    with pytest.raises(FerpipeError, match="does not exist"):
        fetch(tmp_path, params_for("ckplus", tmp_path / "missing"))
    with pytest.raises(FerpipeError, match="fetch.ckplus_protocol"):
        write_ckplus(tmp_path / "ck", {"happy": 9})
        fetch(tmp_path, params_for("ckplus", tmp_path / "ck", ckplus_protocol="frames"))
    with pytest.raises(FerpipeError, match="fetch.val_fraction"):
        fetch(tmp_path, params_for("ckplus", tmp_path / "ck", val_fraction=1.5))


def test_failed_run_removes_stale_outputs(tmp_path):
    plant_stale([tmp_path / "out" / "dataset", tmp_path / "out" / "data.json"])
    with pytest.raises(FerpipeError):
        fetch(tmp_path, params_for("fer2013", tmp_path / "missing"))
    assert not (tmp_path / "out" / "dataset").exists() and not (tmp_path / "out" / "data.json").exists()


def run_stage(tmp_path: Path, params: dict | str, params_file: str = "params.yaml", in_child: bool = False):
    outs = [tmp_path / "data" / "dataset", tmp_path / "metrics" / "data.json"]
    return run_script("fetch", params, tmp_path, "--out", outs[0], "--metrics", outs[1], params_file=params_file,
                      in_child=in_child), outs


def test_stage_script_exits_1_with_one_error_line_and_no_outputs(tmp_path):
    """As the shell sees it, in a process of its own (the other stage tests run the script's main in process)."""
    proc, outs = run_stage(tmp_path, params_for("genki4k", tmp_path / "nowhere"), in_child=True)
    assert_failed_cleanly(proc, "sources.genki4k", outs)
    assert "nowhere" in proc.stderr
    write_genki(tmp_path / "nowhere", n=20)
    plant_stale(outs)  # a killed run's temporary outputs are cleared by the next run
    proc, outs = run_stage(tmp_path, params_for("genki4k", tmp_path / "nowhere"), in_child=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(outs[1].read_text())["counts"]["train"]["total"] > 0
    assert leftovers(outs) == outs and (outs[0] / "index.csv").is_file()


@pytest.mark.parametrize("params, message", [
    ("dataset: [unclosed", "other.yaml: not valid YAML"),
    (yaml.safe_dump(params_for("genki4k", "/nowhere")), "other.yaml: sources.genki4k: /nowhere does not exist"),
    (yaml.safe_dump(params_for("genki4k", None)), "other.yaml: sources.genki4k"),
    (yaml.safe_dump(params_for("demo", folds=4, fold=4)), "other.yaml: fetch.fold"),
    (yaml.safe_dump({**params_for("demo"), "fetch": {**params_for("demo")["fetch"], "fods": 3}}),
     "other.yaml: unknown parameter fetch.fods (did you mean fetch.folds?)"),
    (yaml.safe_dump(params_for("demo", val_fraction=0.6, test_fraction=0.5)), "other.yaml: fetch.val_fraction"),
])
def test_stage_params_error_names_the_given_file_and_leaves_no_stale_output(tmp_path, params, message):
    outs = [tmp_path / "data" / "dataset", tmp_path / "metrics" / "data.json"]
    plant_stale(outs)
    proc, outs = run_stage(tmp_path, params, params_file="other.yaml")
    assert_failed_cleanly(proc, message, outs)


@pytest.mark.parametrize("name, damage, message", [
    ("index.csv", lambda t: t.replace("id,split,label,", "id,split,", 1), "missing column(s) label"),
    ("index.csv", lambda t: t + "99,val,0,non_smile,,x.jpg,0,ten,10,1\n", "must be integers"),
    ("index.csv", lambda t: t + "99,val,0,non_smile,,x.jpg,999999999,10,10,1\n", "does not fit images.npy"),
    ("index.csv", lambda t: t.replace(",0,non_smile,", ",5,non_smile,", 1), "label 5 is outside the class range 0..1"),
    ("index.csv", lambda t: t.replace(",val,", ",dev,", 1), "split 'dev' is not one of"),
    ("meta.json", lambda t: t[:-5], "not valid JSON"),
    ("meta.json", lambda t: '{"dataset": "x"}', "missing field classes"),
    ("images.npy", lambda t: "garbage", "not a readable .npy pixel buffer"),
])
def test_damaged_dataset_is_an_error_naming_the_file(tmp_path, name, damage, message):
    write_genki(tmp_path / "g", n=20)
    _, ds = fetch(tmp_path, params_for("genki4k", tmp_path / "g"))
    path = ds.folder / name
    path.write_text(damage(path.read_text(errors="replace")))
    with pytest.raises(FerpipeError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        Dataset(ds.folder)


def test_rgba_cmyk_and_grey_photos_become_rgb(tmp_path):
    root = write_genki(tmp_path / "g", n=20)
    rgb = np.asarray(Image.open(root / "files" / "file0001.jpg"))
    Image.fromarray(rgb).convert("CMYK").save(root / "files" / "file0001.jpg")
    Image.fromarray(rgb).convert("L").save(root / "files" / "file0002.jpg")
    (root / "files" / "file0003.jpg").unlink()
    Image.fromarray(rgb).convert("RGBA").save(root / "files" / "file0003.png")
    _, ds = fetch(tmp_path, params_for("genki4k", root))
    assert all(ds.image(i).ndim == 3 and ds.image(i).shape[2] == 3 for i in range(len(ds)))
