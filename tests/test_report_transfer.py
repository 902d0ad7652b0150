"""REPORT.md's transfer section: CK+ tables of one ResNet-50 recipe from scratch and pretrained paired,
the per-fold difference and its verdict, the best-model and 98.6% verdicts, computed from the rows."""
from __future__ import annotations

import pytest
from support.stage_imports import REPO

from ferpipe.report.claims import FAILS, HOLDS, UNJUDGED
from ferpipe.report.paper import load_paper
from ferpipe.report.sweep_table import SweepTable
from ferpipe.report.tables import kfold_aggregate
from ferpipe.report.transfer import fold_difference, helps_verdict, transfer_pairs, transfer_section

PAPER = load_paper(REPO / "paper.yaml")
SOURCE = "data/pretrained/fer2013-resnet50"
PRETRAINED = {"weights": SOURCE, "train.head_epochs": 2, "train.finetune_lr_factor": 0.1}


def table(accuracies: list[tuple[float, float]], arch: str = "resnet50", sweep: str = "kfold", param: str = "fetch.fold",
          values: list | None = None, images: int = 100, **settings) -> SweepTable:
    """A CK+ table with one row per (softmax, svm) accuracy pair, `images` test images each."""
    rows = [{"value": value, "experiment": f"{sweep}-20261206T090000-{i}", "lr": 0.01, "softmax_accuracy": softmax,
             "svm_accuracy": svm, "test_images": images, "svm_minus_softmax": svm - softmax}
            for i, (value, (softmax, svm)) in enumerate(zip(values or range(len(accuracies)), accuracies), start=1)]
    settings = {"dataset": "ckplus", "fetch.ckplus_protocol": "subject", "epochs": 6, **settings}
    out = SweepTable(sweep=sweep, param=param, baseline="c0ffee", dataset="ckplus", arch=arch, protocol="subject folds",
                     budget="6 epochs", shorter_than_paper=True, settings=settings, rows=rows)
    if sweep == "kfold":
        out.aggregate = kfold_aggregate(rows, len(rows))
    return out


SCRATCH = table([(60.0, 58.0), (70.0, 66.0), (80.0, 75.0)], weights=None)
FROM_SOURCE = table([(70.0, 71.0), (75.0, 78.0), (90.0, 92.0)], **PRETRAINED)


def test_tables_pair_when_only_the_start_differs():
    pairs = transfer_pairs([SCRATCH, FROM_SOURCE, table([(50.0, 50.0)] * 3, epochs=9, **PRETRAINED)])
    assert len(pairs) == 1 and pairs[0].scratch is SCRATCH and pairs[0].pretrained is FROM_SOURCE
    assert transfer_pairs([SCRATCH, table([(50.0, 50.0)] * 3, arch="lenet", **PRETRAINED)]) == []


def test_the_difference_is_paired_by_fold():
    diff = fold_difference(transfer_pairs([SCRATCH, FROM_SOURCE])[0], "softmax")
    assert diff.folds == 3 and diff.mean == pytest.approx(25 / 3) and diff.sd == pytest.approx(2.88675, abs=1e-4)
    assert diff.low == pytest.approx(25 / 3 - 4.302653 * 2.88675 / 3 ** 0.5, abs=1e-3)
    assert helps_verdict(diff).startswith(HOLDS)
    # Folds in another order pair by their value, not their position.
    shuffled = table([(90.0, 92.0), (70.0, 71.0), (75.0, 78.0)], values=[2, 0, 1], **PRETRAINED)
    assert fold_difference(transfer_pairs([SCRATCH, shuffled])[0], "softmax") == diff


@pytest.mark.parametrize("pretrained, verdict", [
    ([(50.0, 50.0), (60.0, 60.0), (70.0, 70.0)], FAILS),
    ([(70.0, 70.0), (60.0, 60.0), (80.0, 80.0)], UNJUDGED),
])
def test_pretraining_that_hurts_or_is_not_told_apart(pretrained, verdict):
    diff = fold_difference(transfer_pairs([SCRATCH, table(pretrained, **PRETRAINED)])[0], "svm")
    assert helps_verdict(diff).startswith(verdict)


def test_the_section_judges_the_transfer_the_best_model_and_the_paper_figure():
    lenet = table([(85.0, 86.0), (88.0, 89.0), (87.0, 88.0)], arch="lenet", weights=None)
    text = "\n".join(transfer_section(PAPER, [SCRATCH, FROM_SOURCE, lenet]))
    assert f"started from `{SOURCE}`" in text
    assert "| pretraining helps (softmax head, subject k-fold) |" in text and "+8.3 ± 2.9 points" in text
    # 241 of 300 pooled against the LeNet's 263: the LeNet is ahead, and their intervals overlap.
    assert "| ResNet-50 + SVM is the best model |" in text and "LeNet, svm reaches 87.7 % pooled" in text
    assert f"{UNJUDGED}: LeNet, svm" in text
    assert f"{FAILS}: 98.6 is outside" in text


def test_no_pair_no_section():
    assert transfer_section(PAPER, [SCRATCH]) == []
