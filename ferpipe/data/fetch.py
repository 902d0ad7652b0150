"""The `fetch` stage: one dataset -> the canonical dataset folder, plus counts and a leakage audit."""
from __future__ import annotations

import json
from pathlib import Path

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import ParamBlock
from ferpipe.data.audit import audit, class_counts, drop_train_copies
from ferpipe.data.dataset import SPLITS, Record, write_dataset
from ferpipe.data.sources import ckplus, demo, fer2013, genki4k
from ferpipe.data.sources.download import materialize

DATASETS = ("demo", "fer2013", "ckplus", "genki4k")
FETCH_KEYS = ("seed", "sha256", "demo", "ckplus_protocol", "val_fraction", "test_fraction", "drop_train_copies")


def load_records(params: dict) -> tuple[list[str], list[Record]]:
    dataset = params.get("dataset")
    if dataset not in DATASETS:
        raise FerpipeError(f"params.yaml: dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    block = ParamBlock(params, "fetch", FETCH_KEYS)
    seed = block.integer("seed", 0)
    val_fraction, test_fraction = block.real("val_fraction", 0, 1), block.real("test_fraction", 0, 1)
    if dataset == "demo":
        sizes = ParamBlock({"fetch.demo": block.values["demo"]}, "fetch.demo", ("per_class", "size"))
        return demo.load(sizes.integer("per_class", 3), sizes.integer("size", 32), val_fraction, test_fraction, seed)
    path = materialize(dataset, params.get("sources"), block.values["sha256"])
    if dataset == "fer2013":
        return fer2013.load(path)
    if dataset == "ckplus":
        protocol = block.choice("ckplus_protocol", ckplus.PROTOCOLS)
        return ckplus.load(path, protocol, val_fraction, test_fraction, seed)
    return genki4k.load(path, val_fraction, test_fraction, seed)


def run_fetch(params: dict, out_dir: Path, metrics_path: Path) -> dict:
    with staged_outputs(out_dir, metrics_path) as (tmp_dir, tmp_metrics):
        classes, records = load_records(params)
        for split in SPLITS:
            require(any(r.split == split for r in records), f"dataset {params['dataset']}: the {split} split is empty")
        report = audit(records)
        dropped = 0
        if ParamBlock(params, "fetch", FETCH_KEYS).flag("drop_train_copies"):
            records, dropped = drop_train_copies(records)
        meta = write_dataset(tmp_dir, params["dataset"], classes, records)
        metrics = {
            "dataset": params["dataset"],
            "content_hash": meta["content_hash"],
            "num_classes": len(classes),
            "counts": class_counts(records, classes),
            "audit": report,
            "train_copies_dropped": dropped,
        }
        tmp_metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
