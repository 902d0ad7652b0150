"""CK+ under the paper's frame-level split and under a subject split, side by side: REPORT.md's finding.

The sweep tables of one sweep and setting on CK+ are paired by their split (`fetch.ckplus_protocol`,
which the tables always show on CK+); each of the paper's figures is judged under both splits by the
rules of ferpipe.report.claims. The `protocols` sweep (one network, the split swept) judges the
paper's ResNet-50 claims under both. A k-fold sweep by subject adds two intervals of its accuracy:
a t-interval over the folds (t with k - 1 degrees of freedom) and the exact binomial interval of
all folds' test images pooled (each image is tested once). The paragraph is written from these numbers.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import t as student_t

from ferpipe.report import fmt
from ferpipe.report.claims import (
    HOLDS,
    UNJUDGED,
    Claim,
    difference_verdict,
    display_name,
    interval_verdict,
    proportion_interval,
    sweep_claims,
)
from ferpipe.report.paper import Paper
from ferpipe.report.sweep_table import SweepTable

PROTOCOL_KEY = "fetch.ckplus_protocol"
SPLITS = {"paper": "the paper's frame-level split", "subject": "the subject split"}
TABLE2_SWEEP = "table4"  # its row at the paper's Table 2 learning rate is the Table 2 point


@dataclass(frozen=True)
class SideBySide:
    """One claim of the paper, judged under each split (None: not measured under that split)."""
    claim: str
    where: str
    claimed: str
    paper_split: Claim | None
    subject_split: Claim | None


@dataclass(frozen=True)
class PooledFolds:
    """The test accuracy (%) of every fold of a k-fold sweep: mean, sd, t-interval, and all folds pooled."""
    table: SweepTable
    head: str  # "softmax" or "svm"
    folds: int
    mean: float
    sd: float
    t_low: float
    t_high: float
    images: int
    pooled: float
    pooled_low: float
    pooled_high: float


def split_of(table: SweepTable) -> str | None:
    return table.settings.get(PROTOCOL_KEY) if table.dataset == "ckplus" else None


def paired_tables(tables: list[SweepTable]) -> list[dict[str, SweepTable]]:
    """The CK+ tables of one sweep, commit and setting under both splits, {"paper": ..., "subject": ...}."""
    groups: dict[tuple, dict[str, SweepTable]] = {}
    for table in tables:
        split = split_of(table)
        if split in SPLITS and table.aggregate is None and table.rows:
            rest = {k: v for k, v in table.settings.items() if k != PROTOCOL_KEY}
            groups.setdefault((table.sweep, table.baseline, json.dumps(rest, sort_keys=True, default=str)), {})[split] = table
    return [group for group in groups.values() if len(group) == len(SPLITS)]


def split_rows(tables: list[SweepTable]) -> tuple[SweepTable, dict[str, dict[str, Any]]] | None:
    """The newest CK+ table that sweeps the split itself (`protocols`), and its row of each split."""
    for table in reversed(tables):
        if table.dataset == "ckplus" and table.param == PROTOCOL_KEY:
            rows = {row["value"]: row for row in table.rows if row["value"] in SPLITS}
            if len(rows) == len(SPLITS):
                return table, rows
    return None


def subject_kfold(tables: list[SweepTable], head: str) -> PooledFolds | None:
    """The newest k-fold table on CK+ (by subject) with two or more folds done, for `head`."""
    for table in reversed(tables):
        if table.dataset == "ckplus" and table.aggregate is not None and table.aggregate["folds_done"] >= 2:
            return pool_folds(table, head)
    return None


def pool_folds(table: SweepTable, head: str) -> PooledFolds | None:
    rows = [r for r in table.rows if r[f"{head}_accuracy"] is not None and r["test_images"]]
    if len(rows) < 2:
        return None
    accuracies = [r[f"{head}_accuracy"] for r in rows]
    k = len(rows)
    mean = sum(accuracies) / k
    sd = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / (k - 1))
    half = float(student_t.ppf(0.975, k - 1)) * sd / math.sqrt(k)
    images = sum(r["test_images"] for r in rows)
    correct = sum(round(r[f"{head}_accuracy"] / 100.0 * r["test_images"]) for r in rows)
    low, high = proportion_interval(correct / images, images)
    return PooledFolds(table=table, head=head, folds=k, mean=mean, sd=sd, t_low=mean - half, t_high=mean + half,
                       images=images, pooled=100.0 * correct / images, pooled_low=low, pooled_high=high)


def _by_label(claims: list[Claim]) -> dict[str, Claim]:
    return {claim.claim: claim for claim in claims}


def side_by_side(paper: Paper, tables: list[SweepTable]) -> list[SideBySide]:
    """Every figure of the paper's tables under both splits, the subject k-fold at the Table 2 point, and
    the paper's ResNet-50 claims where the `protocols` sweep measured them."""
    pairs = []
    for group in paired_tables(tables):
        under = {split: _by_label(sweep_claims(paper, table)) for split, table in group.items()}
        for label, claim in under["paper"].items():
            pairs.append(SideBySide(label, claim.where, claim.claimed, claim, under["subject"].get(label)))
    kfold = subject_kfold(tables, "softmax")
    table4 = paper.tables.get(TABLE2_SWEEP)
    claimed_error = table4.figures_for("lr", paper.table2["lr"]).get("test_error") if table4 else None
    if kfold and claimed_error is not None:
        pooled_error = 1.0 - kfold.pooled / 100.0
        claim = Claim(f"test error at the Table 2 point, every fold of a {kfold.table.aggregate['k']}-fold subject split",
                      table4.where, f"{fmt.percent(claimed_error)} %",
                      f"{fmt.percent(100.0 * pooled_error)} % (all {kfold.images} test images pooled)", "ckplus",
                      f"{kfold.table.protocol}; {kfold.table.budget}", fmt.plain(kfold.images),
                      interval_verdict(claimed_error, pooled_error, kfold.images, "test error, folds pooled",
                                       kfold.table.shorter_than_paper))
        pairs.append(SideBySide(claim.claim, claim.where, claim.claimed, None, claim))
    found = split_rows(tables)
    if found:
        table, rows = found
        for key in ("accuracy", "svm_vs_softmax"):
            claims = {split: _network_claim(paper, key, table, row) for split, row in rows.items()}
            first = claims["paper"]
            pairs.append(SideBySide(first.claim, first.where, first.claimed, claims["paper"], claims["subject"]))
    return pairs


def _network_claim(paper: Paper, key: str, table: SweepTable, row: dict[str, Any]) -> Claim:
    """The paper's accuracy or SVM-against-softmax claim, judged on one row of the `protocols` sweep."""
    claim = paper.claims[key]
    setting = f"{SPLITS[row['value']]}; {table.budget}"
    if key == "accuracy":
        claimed = float(claim["accuracy_percent"])
        label = "accuracy of the deep features + RBF SVM (on CK+, the data of the paper's description)"
        measured = f"{fmt.percent(row['svm_accuracy'])} % (SVM, `{row['experiment']}`)"
        judged = row["svm_accuracy"] is not None and row["test_images"]
        verdict = (interval_verdict(claimed, row["svm_accuracy"] / 100.0, row["test_images"], "SVM accuracy",
                                    table.shorter_than_paper) if judged else f"{UNJUDGED}: no SVM accuracy")
        return Claim(label, claim["where"], f"{fmt.percent(claimed)} %", measured, "ckplus", setting,
                     fmt.plain(row["test_images"]), verdict if table.arch == claim["arch"] else _other_net(table, claim))
    claimed = float(claim["difference_points"])
    label = "SVM better than the softmax head"
    if row["svm_minus_softmax"] is None:
        measured, verdict = fmt.MISSING, f"{UNJUDGED}: no comparison"
    else:
        measured = (f"{fmt.points(row['svm_minus_softmax'])} points (95% interval {fmt.points(row['ci95_low'])}.."
                    f"{fmt.points(row['ci95_high'])}, McNemar p = {fmt.p_value(row['mcnemar_p'])})")
        verdict = difference_verdict(claimed, row["ci95_low"], row["ci95_high"])
    return Claim(label, claim["where"], f"{fmt.points(claimed)} points", measured, "ckplus", setting,
                 fmt.plain(row["test_images"]), verdict if table.arch == claim["arch"] else _other_net(table, claim))


def _other_net(table: SweepTable, claim: dict[str, Any]) -> str:
    return f"{UNJUDGED}: measured with {display_name(table.arch)}, the claim is about {display_name(claim['arch'])}"


def table2_point(paper: Paper, tables: list[SweepTable]) -> dict[str, tuple[SweepTable, dict[str, Any]]]:
    """The Table 2 point's row of the Table 4 sweep under each split (its learning rate is the paper's)."""
    for group in paired_tables(tables):
        if group["paper"].sweep == TABLE2_SWEEP:
            found = {split: (table, next((r for r in table.rows if r["value"] == paper.table2["lr"]), None))
                     for split, table in group.items()}
            return {split: (table, row) for split, (table, row) in found.items() if row is not None}
    return {}


def finding(paper: Paper, tables: list[SweepTable], pairs: list[SideBySide]) -> str:
    """The paragraph: how much of the paper's accuracy the frame-level split's leak explains, from the numbers."""
    sentences = [_leak_sentences(paper, tables)]
    sweep_pairs = [p for p in pairs if p.paper_split and p.subject_split and p.where in
                   {t.where for t in paper.tables.values()}]
    if sweep_pairs:
        holds = {split: sum(getattr(p, f"{split}_split").verdict.startswith(HOLDS) for p in sweep_pairs)
                 for split in SPLITS}
        sentences.append(f"Of the paper's {len(sweep_pairs)} table figures measured under both splits, "
                         f"{_hold(holds['paper'])} under its own split and {_hold(holds['subject'])} under the subject split.")
    found = split_rows(tables)
    if found:
        net, rows = found
        sentences.append(
            f"The {display_name(net.arch)} of the `{net.sweep}` sweep ({net.budget}) reaches "
            f"{fmt.percent(rows['paper']['svm_accuracy'])} % (SVM) under the frame-level split and "
            f"{fmt.percent(rows['subject']['svm_accuracy'])} % under the subject split, against the paper's "
            f"{fmt.percent(float(paper.claims['accuracy']['accuracy_percent']))} %.")
    return " ".join(sentences)


def _leak_sentences(paper: Paper, tables: list[SweepTable]) -> str:
    point = table2_point(paper, tables)
    if set(point) != set(SPLITS):
        return ("The Table 2 point (Table 4's run at the paper's learning rate) is not measured under both splits "
                "yet: `results/ckplus/run.sh sweeps PATH table4` runs it.")
    (table, paper_row), (_, subject_row) = point["paper"], point["subject"]
    claimed_acc = 100.0 - paper.tables[TABLE2_SWEEP].figures_for("lr", paper.table2["lr"])["test_error"]
    acc_paper, acc_subject = paper_row["softmax_accuracy"], subject_row["softmax_accuracy"]
    kfold = subject_kfold(tables, "softmax")
    honest, honest_what = acc_subject, f"the subject split's {subject_row['test_images']} test images"
    text = (f"On CK+48, the data the paper's description fits, the paper's LeNet at its Table 2 point ({table.budget}) "
            f"reaches {fmt.percent(acc_paper)} % test accuracy under the paper's frame-level split "
            f"({paper_row['test_images']} test images; the paper: {fmt.percent(claimed_acc)} %) and "
            f"{fmt.percent(acc_subject)} % when no person is in two splits ({subject_row['test_images']} images)")
    if kfold:
        honest, honest_what = kfold.pooled, f"all {kfold.images} test images of the {kfold.folds} subject folds"
        budget = "" if kfold.table.budget == table.budget else f" ({kfold.table.budget})"
        text += (f"; over {kfold.folds} subject folds{budget}, {fmt.percent(kfold.mean)} ± {fmt.percent(kfold.sd)} % "
                 f"(t-interval {fmt.percent(kfold.t_low)}..{fmt.percent(kfold.t_high)} %), "
                 f"{fmt.percent(kfold.pooled)} % with all {kfold.images} test images pooled "
                 f"({fmt.percent(kfold.pooled_low)}..{fmt.percent(kfold.pooled_high)} %)")
    errors = (100.0 - honest) / max(100.0 - acc_paper, 1e-9)
    return text + (f". Frames of one sequence and sequences of one person land in train and test alike under the "
                   f"paper's split: that leak is worth {fmt.percent(acc_paper - honest)} accuracy points here (the "
                   f"frame-level {fmt.percent(acc_paper)} % against {fmt.percent(honest)} % on {honest_what}"
                   + (f"; {fmt.percent(acc_paper - acc_subject)} against the single subject split, trained alike"
                      if kfold else "")
                   + f"), and on people it has not seen the network makes {errors:.1f} times the errors.")


def _hold(count: int) -> str:
    return f"{count} holds" if count == 1 else f"{count} hold"


def _cell(claim: Claim | None) -> list[str]:
    return [claim.measured, claim.verdict] if claim else [fmt.MISSING, "not measured under this split"]


def _point_rows(paper: Paper, tables: list[SweepTable]) -> list[list[str]]:
    rows = []
    point = table2_point(paper, tables)
    for split, (_, row) in sorted(point.items(), key=lambda item: list(SPLITS).index(item[0])):
        rows.append([SPLITS[split], fmt.plain(row["test_images"]), fmt.percent(row["softmax_accuracy"]),
                     fmt.percent(row["svm_accuracy"]),
                     f"{fmt.points(row['svm_minus_softmax'])} ({fmt.points(row['ci95_low'])}..{fmt.points(row['ci95_high'])})",
                     fmt.p_value(row["mcnemar_p"])])
    softmax, svm = subject_kfold(tables, "softmax"), subject_kfold(tables, "svm")
    if softmax and svm:
        agg = softmax.table.aggregate
        rows.append([f"{softmax.table.protocol} ({agg['folds_done']} of {agg['k']} folds): mean ± sd, t-interval; pooled",
                     fmt.plain(softmax.images), _folds_cell(softmax), _folds_cell(svm),
                     fmt.mean_sd(agg["svm_minus_softmax"], signed=True), fmt.MISSING])
    return rows


def _folds_cell(folds: PooledFolds) -> str:
    return (f"{fmt.percent(folds.mean)} ± {fmt.percent(folds.sd)} ({fmt.percent(folds.t_low)}..{fmt.percent(folds.t_high)}); "
            f"{fmt.percent(folds.pooled)} ({fmt.percent(folds.pooled_low)}..{fmt.percent(folds.pooled_high)})")


def protocols_section(paper: Paper, tables: list[SweepTable], level: str = "##") -> list[str]:
    """REPORT.md's side-by-side section; empty where no CK+ sweep ran under both splits."""
    pairs = side_by_side(paper, tables)
    if not pairs:
        return []
    header = ["claim", "where in the paper", "claimed", "paper's split: measured", "verdict",
              "subject split: measured", "verdict"]
    rows = [[p.claim, p.where, p.claimed, *_cell(p.paper_split), *_cell(p.subject_split)] for p in pairs]
    parts = [f"{level} CK+: the paper's frame-level split against a subject split", "", finding(paper, tables, pairs), "",
             ("Each figure is judged by the rules above under each split. k-fold figures: the mean ± sd over the folds, "
              "the 95% t-interval over the folds' accuracies (t with k − 1 degrees of freedom), and the exact binomial "
              "95% interval of all folds' test images pooled (every image is tested once)."), "",
             fmt.md_table(header, rows)]
    point = _point_rows(paper, tables)
    if point:
        parts += ["", f"{level}# The Table 2 point: softmax against SVM under both splits (LeNet features)", "",
                  fmt.md_table(["split", "test images", "softmax accuracy %", "SVM accuracy %",
                                "SVM − softmax (points, 95% interval)", "McNemar p"], point)]
    return parts
