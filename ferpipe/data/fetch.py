"""The `fetch` stage: one dataset -> the canonical dataset folder, plus counts and a leakage audit."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ferpipe.core.errors import require
from ferpipe.data.audit import audit, class_counts, drop_train_copies
from ferpipe.data.dataset import SPLITS, ImageRecord, write_dataset
from ferpipe.data.settings import FetchSettings
from ferpipe.data.sources import ckplus, demo, fer2013, genki4k
from ferpipe.data.sources.download import materialize
from ferpipe.data.splits import kfold_split


def load_records(s: FetchSettings) -> tuple[list[str], list[ImageRecord]]:
    """The dataset's classes and images, split by the loader (official or seeded split)."""
    f = s.fetch
    if s.dataset == "demo":
        return demo.load(f.demo.per_class, f.demo.size, f.val_fraction, f.test_fraction, f.seed)
    path = materialize(s.dataset, s.sources.model_dump(), f.sha256.model_dump(), s.params_file)
    if s.dataset == "fer2013":
        return fer2013.load(path)
    if s.dataset == "ckplus":
        return ckplus.load(path, f.ckplus_protocol, f.val_fraction, f.test_fraction, f.seed)
    return genki4k.load(path, f.val_fraction, f.test_fraction, f.seed)


def apply_folds(s: FetchSettings, records: list[ImageRecord], classes: list[str]) -> str:
    """Replace the loader's split by fold `fetch.fold` of `fetch.folds`: grouped by subject where every
    image has one, else by image; stratified by class either way. Returns what the folds group."""
    f = s.fetch
    labels = np.array([r.label for r in records])
    subjects = np.array([r.subject for r in records])
    grouped = all(subjects)
    if grouped:
        n_subjects = len(set(subjects))
        require(f.folds <= n_subjects, f"{s.params_file}: fetch.folds = {f.folds} is more than the {n_subjects} "
                f"subjects of {s.dataset} (folds are made of whole subjects)")
        # Every fold's test must hold every class, and the other folds' train too: a class needs a subject per fold.
        holders = {label: len(set(subjects[labels == label])) for label in np.unique(labels)}
        rarest = min(holders, key=lambda label: (holders[label], label))
        require(f.folds <= holders[rarest], f"{s.params_file}: fetch.folds = {f.folds} is more than the "
                f"{holders[rarest]} subject(s) with images of class {classes[rarest]!r} in {s.dataset}: a fold would "
                "test without that class (or train without it); lower fetch.folds or add images of it")
    else:
        present, per_class = np.unique(labels, return_counts=True)
        smallest = int(np.argmin(per_class))
        require(f.folds <= per_class[smallest], f"{s.params_file}: fetch.folds = {f.folds} is more than the "
                f"{per_class[smallest]} images of class {classes[present[smallest]]!r} in {s.dataset}")
    splits = kfold_split(labels, subjects if grouped else None, f.folds, f.fold, f.val_fraction, f.seed)
    for record, split in zip(records, splits):
        record.split = str(split)
    return "subject" if grouped else "image"


def run_fetch(s: FetchSettings, out_dir: Path, metrics_path: Path) -> dict:
    """Write the canonical dataset into `out_dir` (which must not exist) and the metrics file."""
    f = s.fetch
    classes, records = load_records(s)
    grouped_by = apply_folds(s, records, classes) if f.folds else None
    own_split = s.dataset == "fer2013" and not f.folds
    for split in SPLITS:
        require(any(r.split == split for r in records),
                f"dataset {s.dataset}: the {split} split is empty with {len(records)} images; " + (
                    f"FER-2013 keeps its own split ({fer2013.SPLIT_RULE}), which fetch.val_fraction and "
                    f"fetch.test_fraction do not change: give the source images of every split, or use fetch.folds"
                    if own_split else f"raise fetch.val_fraction / fetch.test_fraction in {s.params_file} or use "
                                      "more data"))
    report = audit(records)
    dropped = 0
    if f.drop_train_copies:
        records, dropped = drop_train_copies(records)
    in_train = {r.label for r in records if r.split == "train"}
    for label, name in enumerate(classes):
        require(label in in_train, f"dataset {s.dataset}: class {name!r} has no image in the train split"
                + (" (all were copies of val/test images, dropped by fetch.drop_train_copies)" if dropped else "")
                + "; a model cannot learn it: add train images of it or remove the class from the source")
    meta = write_dataset(out_dir, s.dataset, classes, records)
    metrics = {
        "dataset": s.dataset,
        "content_hash": meta["content_hash"],
        "num_classes": len(classes),
        **({"folds": {"k": f.folds, "fold": f.fold, "grouped_by": grouped_by}} if f.folds else {}),
        "counts": class_counts(records, classes),
        "audit": report,
        "train_copies_dropped": dropped,
    }
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
