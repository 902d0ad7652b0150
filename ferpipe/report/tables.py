"""Sweep tables from the experiments of `dvc exp show`: one table per sweep and per setting.

Experiments belong to a sweep by name (ferpipe.experiments.sweeps). Within a sweep they are grouped by
their commit and every parameter except the swept one (and the speed-only `runtime:` block), so an
experiment on another dataset, or with another number of epochs, lands in another table, never in
the same one. Each table says what its settings are: the parameters that differ from params.yaml of
the commit the experiments ran from, the dataset always among them.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from typing import Any

from ferpipe.experiments.results import Experiment, ExpShow
from ferpipe.experiments.sweeps import FOLDS_KEY, Sweep, sweep_of
from ferpipe.report.paper import Paper
from ferpipe.report.run_description import budget_text, protocol_text, shorter_than_paper
from ferpipe.report.sweep_table import SweepTable, flatten

SPEED_ONLY = "runtime."
ALWAYS_SHOWN = ("dataset", "arch", "epochs", "train.steps_per_epoch")  # in a table's settings even when at the default
CKPLUS_PROTOCOL = "fetch.ckplus_protocol"  # shown too on CK+, where it tells the two splits' tables apart


def _percent(value: Any) -> float | None:
    return None if value is None else 100.0 * float(value)


def _error(accuracy: Any) -> float | None:
    return None if accuracy is None else 100.0 * (1.0 - float(accuracy))


def experiment_row(exp: Experiment, param: str, paper_figures: dict[str, float]) -> dict[str, Any]:
    """One table row: the paper's columns, the SVM's where present, and the paper's figures for the value."""
    flat = flatten(exp.params)
    compare = exp.metrics.get("compare", {})
    return {
        "experiment": exp.name, "rev": exp.rev[:7], "value": flat.get(param),
        "n_kerns": flat.get("n_kerns"), "batch_size": flat.get("batch_size"), "pool_size": flat.get("pool_size"),
        "lr": flat.get("lr"), "epochs": exp.metric("train", "epochs"), "best_epoch": exp.metric("train", "best_epoch"),
        "test_images": exp.metric("softmax", "n"), "val_images": exp.metric("train", "val_images"),
        "softmax_accuracy": _percent(exp.metric("softmax", "accuracy")),
        "test_error": _error(exp.metric("softmax", "accuracy")),
        "val_error": _error(exp.metric("train", "best_val_accuracy")),
        "svm_accuracy": _percent(exp.metric("svm", "accuracy")),
        "svm_test_error": _error(exp.metric("svm", "accuracy")),
        "svm_minus_softmax": _percent(compare.get("accuracy_difference")),
        "ci95_low": _percent(compare.get("bootstrap_ci95_low")), "ci95_high": _percent(compare.get("bootstrap_ci95_high")),
        "mcnemar_p": compare.get("mcnemar_p_value"),
        "paper": paper_figures,
        "not_computed": list(exp.not_computed),  # metrics of stages it did not run: left out, not the parent's shown
    }


def _mean_sd(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values) if values else None,
            "sd": statistics.stdev(values) if len(values) >= 2 else None, "n": len(values)}


def kfold_aggregate(rows: list[dict[str, Any]], k: Any) -> dict[str, Any]:
    """Mean and sample standard deviation over the finished folds of softmax and SVM accuracy (%) and of
    their difference (points); `folds_done` of `k` says whether every fold is in."""
    def column(key):
        return [r[key] for r in rows if r[key] is not None]

    return {"k": k, "folds_done": len(rows), "test_images": sum(r["test_images"] or 0 for r in rows),
            "softmax_accuracy": _mean_sd(column("softmax_accuracy")), "svm_accuracy": _mean_sd(column("svm_accuracy")),
            "svm_minus_softmax": _mean_sd(column("svm_minus_softmax"))}


def _group_key(exp: Experiment, param: str) -> tuple[str, str]:
    kept = {k: v for k, v in flatten(exp.params).items() if k != param and not k.startswith(SPEED_ONLY)}
    return exp.baseline, json.dumps(kept, sort_keys=True, default=str)


def _settings(exp: Experiment, param: str, baseline_params: dict[str, Any]) -> dict[str, Any]:
    base = flatten(baseline_params)
    flat = flatten(exp.params)
    shown = (ALWAYS_SHOWN + ((CKPLUS_PROTOCOL,) if flat.get("dataset") == "ckplus" else ())
             + (("weights",) if flat.get("arch") == "resnet50" else ()))  # from scratch or where from
    return {k: v for k, v in flat.items()
            if k != param and not k.startswith(SPEED_ONLY) and (k in shown or base.get(k, object()) != v)}


def sweep_tables(show: ExpShow, sweeps: dict[str, Sweep], paper: Paper) -> list[SweepTable]:
    """Every table of every sweep found among the experiments, in sweeps.yaml's order."""
    by_group: dict[tuple, list[Experiment]] = defaultdict(list)
    for exp in show.experiments:
        name = sweep_of(exp.name)
        if name in sweeps:
            by_group[(name, *_group_key(exp, sweeps[name].param))].append(exp)
    tables = []
    for (name, baseline, _), members in sorted(by_group.items(), key=lambda item: (list(sweeps).index(item[0][0]),
                                                                                  min(e.timestamp for e in item[1]))):
        sweep = sweeps[name]
        paper_table = paper.tables.get(name)
        newest: dict[str, Experiment] = {}
        superseded = []
        for exp in sorted((e for e in members if e.state == "done"), key=lambda e: e.timestamp, reverse=True):
            value_key = json.dumps(flatten(exp.params).get(sweep.param))
            if value_key in newest:
                superseded.append(exp.name)
            else:
                newest[value_key] = exp
        rows = [experiment_row(exp, sweep.param, paper_table.figures_for(sweep.param, flatten(exp.params).get(sweep.param))
                               if paper_table else {}) for exp in newest.values()]
        rows.sort(key=lambda r: _sort_key(r["value"], sweep))
        first = members[0]
        flat = flatten(first.params)
        table = SweepTable(
            sweep=name, param=sweep.param, baseline=baseline, dataset=str(flat.get("dataset")),
            arch=str(flat.get("arch")), protocol=_protocol(flat, sweep, [row["value"] for row in rows]),
            budget=budget_text({k: v for k, v in flat.items() if k != sweep.param}),
            shorter_than_paper=shorter_than_paper(flat),
            settings=_settings(first, sweep.param, show.baseline_params.get(baseline, {})), rows=rows,
            failed=sorted(e.name for e in members if e.state == "failed"),
            pending=sorted(e.name for e in members if e.state == "pending"), superseded=sorted(superseded),
            paper_where=paper_table.where if paper_table else None)
        if sweep.is_kfold:
            table.aggregate = kfold_aggregate(rows, flat.get(FOLDS_KEY))
        tables.append(table)
    return tables


def _protocol(flat: dict[str, Any], sweep: Sweep, values: list[Any]) -> str:
    """How the data was split; in a sweep of the split itself, each value's."""
    if sweep.param != CKPLUS_PROTOCOL:
        return protocol_text(flat, every_fold=sweep.is_kfold)
    return "; ".join(f"{value}: {protocol_text({**flat, sweep.param: value})}" for value in values)


def _sort_key(value: Any, sweep: Sweep) -> tuple:
    """Rows in the order of sweeps.yaml's grid; other values (every fold of a k-fold sweep) after, by value."""
    for i, v in enumerate(sweep.values or []):
        if json.dumps(v) == json.dumps(value):
            return (0, i, 0.0, "")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (1, 0, float(value) if number else 0.0, "" if number else json.dumps(value))
