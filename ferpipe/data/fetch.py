"""The `fetch` stage: one dataset -> the canonical dataset folder, plus counts and a leakage audit."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.params import ParamBlock
from ferpipe.data.audit import audit, class_counts, drop_train_copies
from ferpipe.data.dataset import SPLITS, Record, write_dataset
from ferpipe.data.sources import ckplus, demo, fer2013, genki4k
from ferpipe.data.sources.download import materialize
from ferpipe.data.splits import kfold_split

DATASETS = ("demo", "fer2013", "ckplus", "genki4k")
FETCH_KEYS = ("seed", "sha256", "demo", "ckplus_protocol", "val_fraction", "test_fraction", "folds", "fold",
              "drop_train_copies")


@dataclass(frozen=True)
class FetchSettings:
    source: str  # the params file, named in every message about a parameter
    dataset: str
    sources: dict[str, Any]
    sha256: dict[str, Any]
    demo: dict[str, Any]
    ckplus_protocol: str
    seed: int
    val_fraction: float
    test_fraction: float
    folds: int  # 0: the split of val_fraction / test_fraction; k >= 2: k-fold, fold `fold` is test
    fold: int
    drop_train_copies: bool

    @classmethod
    def from_params(cls, params: dict[str, Any], source: str = "params.yaml") -> FetchSettings:
        dataset = params.get("dataset")
        if dataset not in DATASETS:
            raise FerpipeError(f"{source}: dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
        require("sources" in params, f"{source}: missing parameter(s): sources")
        block = ParamBlock(params, "fetch", FETCH_KEYS, source)
        settings = cls(
            source=source, dataset=dataset, sources=params["sources"] or {}, sha256=block.values["sha256"] or {},
            demo=block.values["demo"], ckplus_protocol=block.choice("ckplus_protocol", ckplus.PROTOCOLS),
            seed=block.integer("seed", 0), val_fraction=block.real("val_fraction", 0, 1),
            test_fraction=block.real("test_fraction", 0, 1), folds=block.integer("folds", 0),
            fold=block.integer("fold", 0), drop_train_copies=block.flag("drop_train_copies"))
        settings._check_split()
        return settings

    def _check_split(self) -> None:
        src = self.source
        if self.folds == 0:
            require(self.val_fraction + self.test_fraction < 1, f"{src}: fetch.val_fraction + fetch.test_fraction "
                    f"must be below 1, got {self.val_fraction + self.test_fraction}")
            require(self.fold == 0, f"{src}: fetch.fold = {self.fold} needs k-fold: set fetch.folds to k >= 2")
            return
        require(self.folds >= 2, f"{src}: fetch.folds must be 0 (no k-fold) or k >= 2, got {self.folds}")
        require(self.fold < self.folds,
                f"{src}: fetch.fold must be in 0..{self.folds - 1} (fetch.folds = {self.folds}), got {self.fold}")
        require(self.val_fraction < 1, f"{src}: fetch.val_fraction must be below 1, got {self.val_fraction}")
        require(self.dataset != "fer2013", f"{src}: fetch.folds: fer2013 has an official split (Training / "
                "PublicTest / PrivateTest), so k-fold is refused; set fetch.folds: 0")
        require(not (self.dataset == "ckplus" and self.ckplus_protocol == "paper"),
                f"{src}: fetch.folds: fetch.ckplus_protocol: paper is the paper's fixed frame-level split, so "
                "k-fold is refused; use fetch.ckplus_protocol: subject")


def load_records(s: FetchSettings) -> tuple[list[str], list[Record]]:
    """The dataset's classes and images, split by the loader (official or seeded split)."""
    if s.dataset == "demo":
        sizes = ParamBlock({"fetch": {"demo": s.demo}}, "fetch.demo", ("per_class", "size"), s.source)
        return demo.load(sizes.integer("per_class", 3), sizes.integer("size", 32), s.val_fraction, s.test_fraction,
                         s.seed)
    path = materialize(s.dataset, s.sources, s.sha256, s.source)
    if s.dataset == "fer2013":
        return fer2013.load(path)
    if s.dataset == "ckplus":
        return ckplus.load(path, s.ckplus_protocol, s.val_fraction, s.test_fraction, s.seed)
    return genki4k.load(path, s.val_fraction, s.test_fraction, s.seed)


def apply_folds(s: FetchSettings, records: list[Record], classes: list[str]) -> str:
    """Replace the loader's split by fold `s.fold` of `s.folds`: grouped by subject where every
    image has one, else by image; stratified by class either way. Returns what the folds group."""
    labels = np.array([r.label for r in records])
    subjects = np.array([r.subject for r in records])
    grouped = all(subjects)
    if grouped:
        n_subjects = len(set(subjects))
        require(s.folds <= n_subjects, f"{s.source}: fetch.folds = {s.folds} is more than the {n_subjects} "
                f"subjects of {s.dataset} (folds are made of whole subjects)")
    else:
        present, per_class = np.unique(labels, return_counts=True)
        smallest = int(np.argmin(per_class))
        require(s.folds <= per_class[smallest], f"{s.source}: fetch.folds = {s.folds} is more than the "
                f"{per_class[smallest]} images of class {classes[present[smallest]]!r} in {s.dataset}")
    splits = kfold_split(labels, subjects if grouped else None, s.folds, s.fold, s.val_fraction, s.seed)
    for record, split in zip(records, splits):
        record.split = str(split)
    return "subject" if grouped else "image"


def run_fetch(s: FetchSettings, out_dir: Path, metrics_path: Path) -> dict:
    """Write the canonical dataset into `out_dir` (which must not exist) and the metrics file."""
    classes, records = load_records(s)
    grouped_by = apply_folds(s, records, classes) if s.folds else None
    for split in SPLITS:
        require(any(r.split == split for r in records),
                f"dataset {s.dataset}: the {split} split is empty with {len(records)} images; raise "
                f"fetch.val_fraction / fetch.test_fraction in {s.source} or use more data")
    report = audit(records)
    dropped = 0
    if s.drop_train_copies:
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
        **({"folds": {"k": s.folds, "fold": s.fold, "grouped_by": grouped_by}} if s.folds else {}),
        "counts": class_counts(records, classes),
        "audit": report,
        "train_copies_dropped": dropped,
    }
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
