"""Integration test on the real CK+48 (`<class>/S<subject>_<sequence>_<frame>.png`), where it is available."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_fetch import fetch, params_for

CKPLUS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "ckplus"
FOLDS = 10

pytestmark = pytest.mark.skipif(not (CKPLUS / "happy").is_dir(), reason=f"real CK+48 not found at {CKPLUS}")


def subjects_and_sequences(ds) -> tuple[list[str], list[tuple[str, str]]]:
    """Each row's subject and (subject, sequence), read from its file name."""
    parts = [Path(row["origin"]).stem.split("_") for row in ds.rows]
    return [p[0] for p in parts], [(p[0], p[1]) for p in parts]


def test_the_folder_loads_whole_under_the_subject_protocol(tmp_path):
    metrics, ds = fetch(tmp_path, params_for("ckplus", CKPLUS, ckplus_protocol="subject", drop_train_copies=False))
    subjects, sequences = subjects_and_sequences(ds)
    assert len(ds) == 981 and len(ds.classes) == 7
    assert len(set(subjects)) == 118 and len(set(sequences)) == 327
    assert sum(metrics["counts"][s]["total"] for s in ("train", "val", "test")) == 981


def test_the_paper_protocol_draws_336_42_42_over_six_classes(tmp_path):
    metrics, ds = fetch(tmp_path, params_for("ckplus", CKPLUS, ckplus_protocol="paper", drop_train_copies=False))
    assert [metrics["counts"][s]["total"] for s in ("train", "val", "test")] == [336, 42, 42]
    assert len(ds.classes) == 6
    for cls in ds.classes:
        assert [metrics["counts"][s][cls] for s in ("train", "val", "test")] == [56, 7, 7]


def test_the_subject_folds_share_no_subject_and_cover_every_subject_once(tmp_path):
    tested = []
    for fold in range(FOLDS):
        _, ds = fetch(tmp_path / str(fold), params_for("ckplus", CKPLUS, ckplus_protocol="subject", folds=FOLDS,
                                                       fold=fold, drop_train_copies=False))
        subjects, _ = subjects_and_sequences(ds)
        by_split = {s: {subj for subj, split in zip(subjects, ds.splits) if split == s} for s in ("train", "val", "test")}
        assert not (by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"]
                    or by_split["val"] & by_split["test"]), fold
        tested += sorted(by_split["test"])
    assert sorted(tested) == sorted(set(tested)) and len(tested) == 118
