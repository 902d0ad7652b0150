"""Sweep tables as Markdown, in the paper's columns (n-kerns, batch size, pool size, lr, errors, best epoch)."""
from __future__ import annotations

from ferpipe.report import fmt
from ferpipe.report.sweep_table import SweepTable

LABELS = {"n_kerns": "n-kerns", "batch_size": "batch size", "pool_size": "pool size", "lr": "lr", "fetch.fold": "fold"}
PAPER_COLUMNS = ("n_kerns", "batch_size", "pool_size", "lr")
LENET_ONLY = ("n_kerns", "pool_size")  # the LeNet's layers; a ResNet-50 has none of them
SWEPT = "value"  # a row's value of the swept parameter
FEATURES = "embed.features"  # network, or hand-crafted features (lbp, hog) under the same SVM


def settings_text(table: SweepTable) -> str:
    shown = ", ".join(f"`{k}={'null' if v is None else fmt.plain(v)}`" for k, v in sorted(table.settings.items()))
    return f"{shown} (every other parameter as in params.yaml of commit `{table.baseline[:7]}`)"


def _has(table: SweepTable, key: str) -> bool:
    return any(row[key] is not None for row in table.rows)


def _paper_keys(table: SweepTable) -> list[str]:
    return [k for k in ("test_error", "val_error") if any(k in row["paper"] for row in table.rows)]


def _setting_columns(table: SweepTable) -> list[str]:
    """The swept parameter where it is not one of the paper's columns, then those of the paper's columns that
    the network has."""
    swept = [] if table.param in PAPER_COLUMNS else [SWEPT]
    return swept + [k for k in PAPER_COLUMNS if table.arch == "lenet" or k not in LENET_ONLY]


def table_markdown(table: SweepTable) -> str:
    if table.aggregate is not None:
        return _kfold_markdown(table)
    paper_keys, svm = _paper_keys(table), _has(table, "svm_test_error")
    columns = _setting_columns(table)
    header = ["experiment", *(LABELS.get(table.param, table.param) if k == SWEPT else LABELS[k] for k in columns),
              "test error %", "val error %", "best epoch"]
    header += [f"paper {k.replace('_', ' ')} %" for k in paper_keys]
    header += ["SVM test error %", "SVM − softmax (points)", "McNemar p"] if svm else []
    rows = []
    for row in table.rows:
        cells = [f"`{row['experiment']}`", *(fmt.plain(row[k]) for k in columns), fmt.percent(row["test_error"]),
                 fmt.percent(row["val_error"]), fmt.plain(row["best_epoch"])]
        cells += [fmt.percent(row["paper"].get(k)) for k in paper_keys]
        if svm:
            cells += [fmt.percent(row["svm_test_error"]), fmt.points(row["svm_minus_softmax"]), fmt.p_value(row["mcnemar_p"])]
        rows.append(cells)
    return fmt.md_table(header, rows)


def _kfold_markdown(table: SweepTable) -> str:
    header = ["experiment", "fold", "test images", "softmax accuracy %", "SVM accuracy %", "SVM − softmax (points)",
              "McNemar p", "val error %", "best epoch"]
    rows = [[f"`{r['experiment']}`", fmt.plain(r["value"]), fmt.plain(r["test_images"]), fmt.percent(r["softmax_accuracy"]),
             fmt.percent(r["svm_accuracy"]), fmt.points(r["svm_minus_softmax"]), fmt.p_value(r["mcnemar_p"]),
             fmt.percent(r["val_error"]), fmt.plain(r["best_epoch"])] for r in table.rows]
    agg = table.aggregate
    rows.append([f"**mean ± sd, {agg['folds_done']} of {agg['k']} folds**", "", fmt.plain(agg["test_images"]),
                 fmt.mean_sd(agg["softmax_accuracy"]), fmt.mean_sd(agg["svm_accuracy"]),
                 fmt.mean_sd(agg["svm_minus_softmax"], signed=True), "", "", ""])
    return fmt.md_table(header, rows)


def table_notes(table: SweepTable) -> list[str]:
    notes = []
    if not table.rows:
        notes.append("No finished experiment: the table is empty.")
    if table.failed:
        notes.append("Failed (left out; `dvc queue logs NAME` says why): " + ", ".join(f"`{n}`" for n in table.failed))
    if table.pending:
        notes.append("Still queued or running (left out): " + ", ".join(f"`{n}`" for n in table.pending))
    if table.superseded:
        notes.append("Older runs of a value shown by a newer one (left out): "
                     + ", ".join(f"`{n}`" for n in table.superseded))
    partial = [f"`{r['experiment']}` ({', '.join(r['not_computed'])})" for r in table.rows if r.get("not_computed")]
    if partial:
        notes.append("Not computed by their experiment (stages it did not run, as with `sweep --until`), so shown as "
                     + f"{fmt.MISSING}: " + ", ".join(partial))
    handcrafted = [f"`{r['value']}`" for r in table.rows if table.param == FEATURES and r["value"] != "network"]
    if handcrafted:
        notes.append(f"Rows {', '.join(handcrafted)}: the SVM is on hand-crafted features, so their SVM − softmax sets "
                     "that traditional pipeline against the network's softmax head, not two heads on the same features.")
    if table.aggregate is not None and table.aggregate["folds_done"] != table.aggregate["k"]:
        notes.append(f"Incomplete: {table.aggregate['folds_done']} of {table.aggregate['k']} folds finished, "
                     "so the mean covers only those.")
    return notes


def table_section(table: SweepTable, level: str, plot_link: str | None) -> list[str]:
    """A table with its heading, settings, notes and plot (`plot_link`: the plot's path as seen from the document)."""
    varies = LABELS.get(table.param, table.param)
    paper = f" (the paper's {table.paper_where})" if table.paper_where else ""
    test_images = sorted({r["test_images"] for r in table.rows if r["test_images"] is not None})
    parts = [f"{level} {table.sweep}: {varies} on {table.dataset}{paper}", "",
             (f"Settings: {settings_text(table)}. Protocol: {table.protocol}. Training: {table.budget}. "
             f"Test images per experiment: {', '.join(map(str, test_images)) or fmt.MISSING}."), "",
             table_markdown(table)]
    notes = table_notes(table)
    if notes:
        parts += [""] + [f"- {note}" for note in notes]
    if plot_link:
        parts += ["", f"![{table.sweep} on {table.dataset}: error against {varies}]({plot_link})"]
    return parts + [""]


def tables_markdown(tables: list[SweepTable]) -> str:
    parts = ["# Sweep tables", "",
             ("Written by `python -m ferpipe tables` from `dvc exp show --json`. One table per sweep and setting: "
             "experiments that differ in any parameter other than the swept one are never in one table. "
             "Errors are % of images; SVM − softmax is in accuracy points (the SVM on the network's features "
             "minus its own softmax head, same test images)."), ""]
    for table in tables:
        parts += table_section(table, "##", table.plot)
    return "\n".join(parts)
