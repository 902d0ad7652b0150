"""Integration test on the real FER-2013 (Kaggle image-folder layout), where it is available."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_fetch import fetch, params_for

from ferpipe.data.pixels import pixel_hash

FER = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fer2013"
EXPECTED = {  # class: (Training, PublicTest, PrivateTest), from the dataset's documentation
    "angry": (3995, 467, 491), "disgust": (436, 56, 55), "fear": (4097, 496, 528), "happy": (7215, 895, 879),
    "sad": (4830, 653, 594), "surprise": (3171, 415, 416), "neutral": (4965, 607, 626),
}

pytestmark = pytest.mark.skipif(not (FER / "train").is_dir(), reason=f"real FER-2013 not found at {FER}")


@pytest.fixture(scope="module")
def fer(tmp_path_factory):
    return fetch(tmp_path_factory.mktemp("fer"), params_for("fer2013", FER, drop_train_copies=False))


def test_exact_counts_per_split_and_class(fer):
    metrics, _ = fer
    assert [metrics["counts"][s]["total"] for s in ("train", "val", "test")] == [28709, 3589, 3589]
    for cls, expected in EXPECTED.items():
        assert tuple(metrics["counts"][s][cls] for s in ("train", "val", "test")) == expected


def test_duplicate_audit_matches_the_known_leaks(fer):
    audit = fer[0]["audit"]
    assert audit["val_images_with_copy_in_train"] == 280
    assert audit["test_images_with_copy_in_train"] == 288
    assert audit["duplicate_groups"] == 1516 and audit["duplicate_extra_copies"] == 1853
    assert audit["conflicting_label_groups"] == 57 and audit["blank_images"] == 12


def test_dropping_train_copies_leaves_no_evaluation_image_in_train(fer, tmp_path):
    metrics, ds = fetch(tmp_path, params_for("fer2013", FER, drop_train_copies=True))
    assert metrics["train_copies_dropped"] >= 280 + 288
    assert metrics["counts"]["train"]["total"] == 28709 - metrics["train_copies_dropped"]
    evaluation = {pixel_hash(ds.image(i)) for i in range(len(ds)) if ds.splits[i] != "train"}
    assert not any(pixel_hash(ds.image(i)) in evaluation for i in ds.indices("train"))
