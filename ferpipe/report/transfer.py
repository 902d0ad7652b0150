"""Transfer on CK+: one ResNet-50 recipe from scratch and from a trained ferpipe model, side by side.

Two CK+ tables of one sweep and commit pair up when their settings differ only in how the network
starts (`weights` none against a model folder, and the two-phase fine-tuning keys that go with
pretrained weights) and in the learning rate, which each start has chosen on val. The subject k-fold gives each head's accuracy (mean ± sd over the folds,
t-interval, all folds' test images pooled) and the per-fold difference pretrained − scratch (paired by
fold, t-interval); the `protocols` sweep gives one run under each split. Judged on these: the paper's
transfer learning helps (the paired interval above 0), ResNet-50 + SVM is the best model measured (the
LeNet's k-fold included where a table holds it), and its 98.6%.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import t as student_t

from ferpipe.report import fmt
from ferpipe.report.claims import FAILS, HOLDS, UNJUDGED, interval_verdict
from ferpipe.report.paper import Paper
from ferpipe.report.ckplus_protocols import PROTOCOL_KEY, SPLITS, PooledFolds, pool_folds
from ferpipe.report.sweep_table import SweepTable

START_KEYS = ("weights", "train.head_epochs", "train.finetune_lr_factor", "train.pretrained_batchnorm")
PER_START = (*START_KEYS, "lr")  # each start's learning rate is chosen on val on its own
HEADS = ("softmax", "svm")


@dataclass(frozen=True)
class Pair:
    scratch: SweepTable
    pretrained: SweepTable


@dataclass(frozen=True)
class FoldDifference:
    """Pretrained − scratch accuracy (points) over the folds both finished."""
    folds: int
    mean: float
    sd: float
    low: float
    high: float


def is_pretrained(table: SweepTable) -> bool:
    return table.settings.get("weights") not in (None, "none")


def _rest(table: SweepTable) -> str:
    return json.dumps({k: v for k, v in table.settings.items() if k not in PER_START}, sort_keys=True, default=str)


def transfer_pairs(tables: list[SweepTable]) -> list[Pair]:
    """The newest (scratch, pretrained) pair of each CK+ ResNet-50 sweep and setting."""
    found: dict[tuple, dict[bool, SweepTable]] = {}
    for table in tables:
        if table.dataset == "ckplus" and table.arch == "resnet50" and table.rows:
            found.setdefault((table.sweep, table.baseline, _rest(table)), {})[is_pretrained(table)] = table
    return [Pair(group[False], group[True]) for group in found.values() if len(group) == 2]


def fold_difference(pair: Pair, head: str) -> FoldDifference | None:
    key = f"{head}_accuracy"
    scratch = {row["value"]: row[key] for row in pair.scratch.rows if row[key] is not None}
    diffs = [row[key] - scratch[row["value"]] for row in pair.pretrained.rows
             if row[key] is not None and row["value"] in scratch]
    if len(diffs) < 2:
        return None
    k = len(diffs)
    mean = sum(diffs) / k
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (k - 1))
    half = float(student_t.ppf(0.975, k - 1)) * sd / math.sqrt(k)
    return FoldDifference(k, mean, sd, mean - half, mean + half)


def helps_verdict(diff: FoldDifference) -> str:
    interval = f"the 95% t-interval {fmt.points(diff.low)}..{fmt.points(diff.high)} over {diff.folds} paired folds"
    if diff.low > 0:
        return f"{HOLDS}: {interval} lies above 0"
    if diff.high < 0:
        return f"{FAILS}: {interval} lies below 0 (pretraining hurts)"
    return f"{UNJUDGED}: {interval} holds 0"


def _split_row(pair: Pair, pretrained: bool, split: str) -> dict[str, Any] | None:
    table = pair.pretrained if pretrained else pair.scratch
    return next((row for row in table.rows if row["value"] == split), None)


@dataclass(frozen=True)
class Transfer:
    kfold: Pair | None  # the subject k-fold pair
    protocols: Pair | None  # the `protocols` sweep's pair: one run under each split
    lenet: dict[str, PooledFolds]  # the LeNet's subject k-fold, by head, where a table holds it


def find_transfer(tables: list[SweepTable]) -> Transfer:
    pairs = transfer_pairs(tables)
    kfold = next((p for p in reversed(pairs) if p.scratch.aggregate and p.pretrained.aggregate), None)
    protocols = next((p for p in reversed(pairs) if p.scratch.param == PROTOCOL_KEY), None)
    lenet_table = next((t for t in reversed(tables) if t.dataset == "ckplus" and t.arch == "lenet" and t.aggregate
                        and t.settings.get(PROTOCOL_KEY) == "subject"), None)
    lenet = {head: pool_folds(lenet_table, head) for head in HEADS} if lenet_table else {}
    return Transfer(kfold, protocols, {head: folds for head, folds in lenet.items() if folds})


def _models(transfer: Transfer) -> dict[str, PooledFolds]:
    """Every model of the subject k-folds, by name, pooled over its folds."""
    models = {}
    if transfer.kfold:
        for start, table in (("from scratch", transfer.kfold.scratch), ("pretrained", transfer.kfold.pretrained)):
            for head in HEADS:
                pooled = pool_folds(table, head)
                if pooled:
                    models[f"ResNet-50 {start}, {head}"] = pooled
    for head, pooled in transfer.lenet.items():
        models[f"LeNet, {head}"] = pooled
    return models


def _accuracy_cell(pooled: PooledFolds) -> str:
    return (f"{fmt.percent(pooled.mean)} ± {fmt.percent(pooled.sd)} ({fmt.percent(pooled.t_low)}.."
            f"{fmt.percent(pooled.t_high)}); {fmt.percent(pooled.pooled)} ({fmt.percent(pooled.pooled_low)}.."
            f"{fmt.percent(pooled.pooled_high)})")


def _split_cells(transfer: Transfer, pretrained: bool, head: str) -> list[str]:
    if not transfer.protocols:
        return [fmt.MISSING, fmt.MISSING]
    rows = [_split_row(transfer.protocols, pretrained, split) for split in SPLITS]
    return [fmt.percent(row[f"{head}_accuracy"]) if row else fmt.MISSING for row in rows]


def _best_model_verdict(models: dict[str, PooledFolds]) -> str:
    name = "ResNet-50 pretrained, svm"
    if name not in models or len(models) < 2:
        return f"{UNJUDGED}: the pretrained ResNet-50's SVM and another model are not both measured"
    ours = models[name]
    rivals = {other: pooled for other, pooled in models.items() if other != name}
    best_rival, rival = max(rivals.items(), key=lambda item: item[1].pooled)
    separated = ours.pooled_low > rival.pooled_high or rival.pooled_low > ours.pooled_high
    if ours.pooled > rival.pooled:
        return (f"{HOLDS if separated else UNJUDGED}: {fmt.percent(ours.pooled)} % pooled against the next best, "
                f"{best_rival}, {fmt.percent(rival.pooled)} %" + ("" if separated else "; their 95% intervals overlap"))
    return (f"{FAILS if separated else UNJUDGED}: {best_rival} reaches {fmt.percent(rival.pooled)} % pooled, the "
            f"pretrained ResNet-50 + SVM {fmt.percent(ours.pooled)} %" + ("" if separated else "; their 95% intervals overlap"))


def transfer_section(paper: Paper, tables: list[SweepTable], level: str = "##") -> list[str]:
    """REPORT.md's transfer section; empty where no scratch/pretrained pair of CK+ tables exists."""
    transfer = find_transfer(tables)
    if not (transfer.kfold or transfer.protocols):
        return []
    models = _models(transfer)
    header = ["model", "subject k-fold: mean ± sd (t-interval); pooled (exact interval), %",
              f"{SPLITS['paper']}, %", f"{SPLITS['subject']}, %"]
    rows = []
    for start, pretrained in (("from scratch", False), ("pretrained", True)):
        for head in HEADS:
            name = f"ResNet-50 {start}, {head}"
            rows.append([name, _accuracy_cell(models[name]) if name in models else fmt.MISSING,
                         *_split_cells(transfer, pretrained, head)])
    rows += [[name, _accuracy_cell(pooled), fmt.MISSING, fmt.MISSING] for name, pooled in models.items()
             if name.startswith("LeNet")]
    claims = [["claim", "where in the paper", "measured", "verdict"]]
    source = (transfer.kfold or transfer.protocols).pretrained.settings.get("weights")
    if transfer.kfold:
        for head in HEADS:
            diff = fold_difference(transfer.kfold, head)
            if diff:
                claims.append([f"pretraining helps ({head} head, subject k-fold)", paper.claims.get("transfer", {}).get("where", "method (transfer learning)"),
                               f"{fmt.points(diff.mean)} ± {fmt.percent(diff.sd)} points pretrained − scratch",
                               helps_verdict(diff)])
        claims.append(["ResNet-50 + SVM is the best model", paper.claims["accuracy"]["where"],
                       "pooled accuracy over the subject folds", _best_model_verdict(models)])
        ours = models.get("ResNet-50 pretrained, svm")
        if ours:
            claimed = float(paper.claims["accuracy"]["accuracy_percent"])
            claims.append([f"{fmt.percent(claimed)} % accuracy (pretrained ResNet-50 + SVM, subject folds pooled)",
                           paper.claims["accuracy"]["where"], f"{fmt.percent(ours.pooled)} % of {ours.images}",
                           interval_verdict(claimed, ours.pooled / 100.0, ours.images, "SVM accuracy, folds pooled",
                                            transfer.kfold.pretrained.shorter_than_paper)])
    if transfer.protocols:
        row = _split_row(transfer.protocols, True, "paper")
        if row and row["svm_accuracy"] is not None:
            claimed = float(paper.claims["accuracy"]["accuracy_percent"])
            claims.append([f"{fmt.percent(claimed)} % accuracy (pretrained ResNet-50 + SVM, {SPLITS['paper']})",
                           paper.claims["accuracy"]["where"], f"{fmt.percent(row['svm_accuracy'])} % of {row['test_images']}",
                           interval_verdict(claimed, row["svm_accuracy"] / 100.0, row["test_images"], "SVM accuracy",
                                            transfer.protocols.pretrained.shorter_than_paper)])
    pair = transfer.kfold or transfer.protocols
    lrs = {start: table.rows[0]["lr"] for start, table in (("scratch", pair.scratch), ("pretrained", pair.pretrained))}
    return [f"{level} Transfer: ResNet-50 from scratch against ResNet-50 started from `{source}`", "",
            (f"The same recipe ({pair.pretrained.budget}) from scratch (lr {fmt.plain(lrs['scratch'])}) and from the "
             f"trained model (lr {fmt.plain(lrs['pretrained'])}), each learning rate chosen on val; the pretrained "
             f"network's head is new and trains alone first where the settings say so ({', '.join(START_KEYS[1:])}). "
             "k-fold figures: mean ± sd over the folds with the 95% t-interval, and all folds' test images pooled "
             "with the exact binomial 95% interval; a difference between the two starts is paired by fold."), "",
            fmt.md_table(header, rows), "", fmt.md_table(claims[0], claims[1:])]
