"""One-line descriptions of how a run split its data and how long it trained, from its parameters
(flattened: `fetch.folds`, `train.steps_per_epoch`)."""
from __future__ import annotations

from typing import Any

from ferpipe.report import fmt

PAPER_EPOCHS = 50


def protocol_text(flat: dict[str, Any], every_fold: bool = False) -> str:
    """How the data was split; `every_fold`: for a set of runs covering every fold of a k-fold split."""
    dataset, folds = flat.get("dataset"), flat.get("fetch.folds") or 0
    if dataset == "fer2013":
        return "official split (Training / PublicTest as val / PrivateTest as test)"
    if dataset == "ckplus" and flat.get("fetch.ckplus_protocol") == "paper":
        return "the paper's frame-level split (56/7/7 per class)"
    if folds >= 2:
        return f"{folds}-fold, each fold the test split once" if every_fold else \
            f"{folds}-fold, fold {flat.get('fetch.fold')} as test"
    if dataset in ("ckplus", "demo"):
        return "subject split (no person in two splits)"
    return "stratified random split"


def budget_text(flat: dict[str, Any]) -> str:
    """The network and how it trained; a parameter missing from `flat` (the swept one of a table) is left out."""
    parts = [str(flat.get("arch"))]
    if flat.get("arch") == "resnet50":
        parts.append(f"weights {flat.get('weights')}")
    if "epochs" in flat:
        steps = flat.get("train.steps_per_epoch")
        parts.append(f"epochs {flat['epochs']}" + (f" of {steps} batches" if steps else " of the whole training set"))
    for key, label in (("batch_size", "batch size"), ("lr", "lr"), ("train.schedule", "schedule"),
                       ("train.input_size", "input px")):
        if key in flat:
            parts.append(f"{label} {fmt.plain(flat[key])}")
    return ", ".join(parts)


def shorter_than_paper(flat: dict[str, Any]) -> bool:
    """Trained less than the paper's 50 full epochs (fewer epochs, or epochs capped in batches)."""
    epochs = flat.get("epochs")
    return bool(flat.get("train.steps_per_epoch")) or (isinstance(epochs, int) and epochs < PAPER_EPOCHS)
