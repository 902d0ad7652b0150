"""REPORT.md: the paper's claims beside this run's metrics and the sweep tables, with verdicts.

Every number comes from a metrics file, from the sweep tables (themselves from `dvc exp show`) or,
for the paper's own figures, from paper.yaml; the intervals behind the verdicts are computed from
those (ferpipe.report.claims).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferpipe.report import fmt
from ferpipe.report.claims import (
    Claim,
    Run,
    accuracy_claim,
    data_claim,
    svm_vs_softmax_claim,
    sweep_claims,
)
from ferpipe.report.paper import Paper
from ferpipe.report.ckplus_protocols import protocols_section
from ferpipe.report.render import LABELS, table_section
from ferpipe.report.sweep_table import SweepTable
from ferpipe.report.transfer import transfer_section
from ferpipe.report.traditional import traditional_claim, traditional_section

TITLE = ('S. Liu, "Face expression recognition based on residual network and support vector machine": '
         "reproduction report")
AUDIT_LABELS = {
    "duplicate_groups": "groups of pixel-identical images (whole dataset)",
    "duplicate_extra_copies": "extra copies in those groups",
    "conflicting_label_groups": "identical images with conflicting labels (groups)",
    "blank_images": "blank images",
    "val_images_with_copy_in_train": "val images with a copy in train (leakage)",
    "test_images_with_copy_in_train": "test images with a copy in train (leakage)",
    "test_images_with_copy_in_val": "test images with a copy in val",
    "subjects_in_several_splits": "people in several splits (where subjects are known)",
}


@dataclass(frozen=True)
class ReportInputs:
    params: dict[str, Any]  # the report's parameters, flattened (`train.steps_per_epoch`)
    metrics: dict[str, dict[str, Any]]  # data, train, softmax, svm, compare
    paper: Paper
    tables: list[SweepTable]
    tables_files: list[Path]  # the sweep tables files read, in order
    table_sources: list[Path]  # the file each of `tables` was read from, in order: its plot lies beside it
    out: Path  # REPORT.md: links are relative to its folder
    traditional: dict[str, Any] | None = None  # the three-way table of `python -m ferpipe traditional`, if given


def _link(inputs: ReportInputs, target: Path) -> str:
    return Path(os.path.relpath(target, inputs.out.parent)).as_posix()


def _claims_section(claims: list[Claim]) -> list[str]:
    header = ["claim", "where in the paper", "claimed", "measured", "dataset", "protocol", "test images", "verdict"]
    rows = [[c.claim, c.where, c.claimed, c.measured, c.dataset, c.protocol, c.test_images, c.verdict] for c in claims]
    return ["## The paper's claims against the measurements", "",
            ("A figure holds when the paper's value is inside the exact 95% interval of the measured proportion on "
            "the test images (the bootstrap interval for SVM − softmax, which must also exclude 0); a claim "
            "measured on another dataset or network than the paper's cannot be judged."), "",
            fmt.md_table(header, rows)]


def _run_section(inputs: ReportInputs, run: Run) -> list[str]:
    counts = inputs.metrics["data"].get("counts", {})
    split_counts = "/".join(fmt.plain(counts.get(s, {}).get("total")) for s in ("train", "val", "test"))
    rows = [["dataset", run.dataset], ["protocol", run.protocol], ["train/val/test images", split_counts],
            ["test images scored", fmt.plain(inputs.metrics["softmax"].get("n"))], ["network and training", run.budget]]
    return ["## This run", "", fmt.md_table(["", ""], rows)]


def _table2_section(inputs: ReportInputs) -> list[str]:
    table2, params = inputs.paper.table2, inputs.params
    rows = [[LABELS.get(k, k.replace("_", " ")), fmt.plain(table2[k]), fmt.plain(params.get(k))]
            for k in ("lr", "batch_size", "epochs", "n_kerns", "pool_size")]
    rows.append(["steps per epoch", "whole training set", fmt.plain(params.get("train.steps_per_epoch"))
                 if params.get("train.steps_per_epoch") else "whole training set"])
    return [f"## Hyper-parameters: the paper's {table2['where']} and this run", "",
            f"This run's network is `{params.get('arch')}`; n-kerns and pool size apply to the LeNet only.", "",
            fmt.md_table(["parameter", "paper", "this run"], rows)]


def _audit_section(inputs: ReportInputs) -> list[str]:
    data = inputs.metrics["data"]
    audit = data.get("audit", {})
    rows = [[label, fmt.plain(audit.get(key))] for key, label in AUDIT_LABELS.items() if key in audit]
    rows.append(["training images dropped as copies of val/test images", fmt.plain(data.get("train_copies_dropped"))])
    return ["## Data audit (metrics/data.json)", "", fmt.md_table(["check", "count"], rows)]


def _compare_section(inputs: ReportInputs, run: Run) -> list[str]:
    cmp = inputs.metrics.get("compare")
    if not cmp:
        return ["## Softmax against SVM", "", "No comparison: metrics/compare.json is missing."]
    if run.handcrafted:
        title = f"## The network's softmax against the RBF SVM on {run.handcrafted} features (metrics/compare.json)"
        svm_column = f"RBF SVM on {run.handcrafted} features"
        words = [(f"The SVM here is fitted on hand-crafted {run.handcrafted} features (`embed.features: {run.features}`), "
                  "not on the network's: this sets the deep network's softmax head against a traditional pipeline, "
                  "not the softmax against an SVM on the same features."), ""]
    else:
        title = "## Softmax against SVM on the same test images (metrics/compare.json)"
        svm_column, words = "RBF SVM on the features", []
    absent = cmp.get("classes_absent_from_test")
    pct = {k: fmt.percent(100.0 * cmp[k]) for k in ("softmax_accuracy", "svm_accuracy", "softmax_macro_f1", "svm_macro_f1")}
    rows = [["accuracy %", pct["softmax_accuracy"], pct["svm_accuracy"]],
            ["macro-F1 %", pct["softmax_macro_f1"], pct["svm_macro_f1"]],
            ["correct where the other is wrong", fmt.plain(cmp["softmax_only_correct"]), fmt.plain(cmp["svm_only_correct"])]]
    return [title, "", *words, fmt.md_table(["", "softmax head", svm_column], rows), "",
            (f"SVM − softmax: {fmt.points(100.0 * cmp['accuracy_difference'])} accuracy points on {cmp['n']} test images, "
            f"paired bootstrap 95% interval {fmt.points(100.0 * cmp['bootstrap_ci95_low'])}.."
            f"{fmt.points(100.0 * cmp['bootstrap_ci95_high'])} ({cmp['bootstrap_resamples']} resamples); exact McNemar "
            f"p = {fmt.p_value(cmp['mcnemar_p_value'])}."
            + (f" Not in the test set, so without recall and left out of the plot: {', '.join(absent)}." if absent else "")),
            "", f"![per-class recall of softmax and SVM]({_link(inputs, Path('plots/compare_recall.png'))})"]


def _sweeps_section(inputs: ReportInputs) -> list[str]:
    parts = ["## Sweep tables", ""]
    if not inputs.tables:
        return parts + [("No sweep table yet (the tables file lists none): `python -m ferpipe sweep table4` (or table5, "
                        "batch) runs one, then `dvc repro` brings it here.")]
    for table, source in zip(inputs.tables, inputs.table_sources, strict=True):
        parts += table_section(table, "###", _link(inputs, source.parent / table.plot) if table.plot else None)
    return parts[:-1]  # a section ends without its blank line


def _kfold_section(inputs: ReportInputs, run: Run) -> list[str]:
    cmp = inputs.metrics.get("compare", {})
    header = ["evaluation", "dataset", "test images", "softmax accuracy %", "SVM accuracy %", "SVM − softmax (points)"]
    rows = [[f"this run: {run.protocol}", run.dataset, fmt.plain(cmp.get("n")),
             fmt.percent(100.0 * cmp["softmax_accuracy"]) if cmp else fmt.MISSING,
             fmt.percent(100.0 * cmp["svm_accuracy"]) if cmp else fmt.MISSING,
             fmt.points(100.0 * cmp["accuracy_difference"]) if cmp else fmt.MISSING]]
    for table in (t for t in inputs.tables if t.aggregate is not None):
        agg = table.aggregate
        rows.append([f"{table.protocol} (`{table.sweep}`, {agg['folds_done']} of {agg['k']} folds; {table.budget})",
                     table.dataset, fmt.plain(agg["test_images"]), fmt.mean_sd(agg["softmax_accuracy"]),
                     fmt.mean_sd(agg["svm_accuracy"]), fmt.mean_sd(agg["svm_minus_softmax"], signed=True)])
    parts = ["## Single split and k-fold", "",
             ("k-fold rows give the mean ± standard deviation over the folds (each image tested once); the single "
             "split is this run's."), "", fmt.md_table(header, rows)]
    if len(rows) == 1:
        parts += ["", ("No k-fold run yet: `python -m ferpipe sweep kfold` (CK+ with the subject protocol, "
                      "GENKI-4K or the demo; `-S fetch.folds=K`).")]
    return parts


REPORT_MARK = "Generated by the `report` stage"  # how the stage recognises a report it wrote, and so replaces


def build_report(inputs: ReportInputs) -> str:
    run = Run.from_params(inputs.params, inputs.metrics)
    claims = [accuracy_claim(inputs.paper, run), svm_vs_softmax_claim(inputs.paper, run), data_claim(inputs.paper, run),
              traditional_claim(inputs.paper, run, inputs.traditional)]
    for table in inputs.tables:
        claims += sweep_claims(inputs.paper, table)
    parts = [f"# {TITLE}", "",
             (f"{REPORT_MARK} (`dvc repro`) from metrics/*.json, the sweep tables "
             f"({', '.join(f'`{path.as_posix()}`' for path in inputs.tables_files)}, written by `python -m ferpipe tables`) "
             "and paper.yaml (the "
             "paper's own figures, with the table or passage each comes from). Do not edit: rerun."), ""]
    for section in (protocols_section(inputs.paper, inputs.tables), transfer_section(inputs.paper, inputs.tables),
                    _run_section(inputs, run), _claims_section(claims),
                    _table2_section(inputs), _audit_section(inputs),
                    _compare_section(inputs, run), traditional_section(inputs.paper, run, inputs.traditional),
                    _sweeps_section(inputs), _kfold_section(inputs, run)):
        parts += section + [""] if section else []
    return "\n".join(parts).rstrip() + "\n"
