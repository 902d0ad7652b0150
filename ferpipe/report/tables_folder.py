"""The sweep tables' folder (`python -m ferpipe tables`, ferpipe/commands/tables.py): written from `dvc exp
show --json` as a whole, and read back to find an experiment by its parameters.

The folder (default sweeps/) is replaced as a whole where it holds only what is written here, or ferpipe
wrote it (ferpipe.core.outputs): TABLES.md (every table, the paper's columns), one plot per table (error
against the swept value, val and test), and tables.json (the same rows, read by the `report` stage).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ferpipe.core.errors import require
from ferpipe.core.outputs import staged_outputs
from ferpipe.experiments.results import ExpShow
from ferpipe.experiments.sweeps import Sweep
from ferpipe.report import fmt
from ferpipe.report.paper import PAPER_FILE, load_paper
from ferpipe.report.render import settings_text, tables_markdown
from ferpipe.report.sweep_plots import plot_table
from ferpipe.report.tables import SweepTable, sweep_tables

TABLES_DIR = "sweeps"
TABLES_JSON = "tables.json"
_OWN_NAME = re.compile(r"TABLES\.md|tables\.json|[A-Za-z0-9_.-]+-[0-9]+\.png")


def _tables_folder(path: Path) -> bool:
    """A folder that holds nothing but files of the names written here (a committed sweeps/)."""
    return path.is_dir() and not path.is_symlink() and all(
        _OWN_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False) for entry in os.scandir(path))


def write_tables(out: Path, show: ExpShow, sweeps: dict[str, Sweep], paper_file: str = PAPER_FILE) -> list[SweepTable]:
    tables = sweep_tables(show, sweeps, load_paper(paper_file))
    require(bool(tables), "`dvc exp show` lists no experiment of the sweeps " + ", ".join(sweeps)
            + " (run `python -m ferpipe sweep NAME` first)")
    per_sweep: dict[str, int] = {}
    with staged_outputs(out, recognise=_tables_folder) as (tmp,):
        tmp.mkdir()
        for table in tables:
            if table.rows:
                per_sweep[table.sweep] = per_sweep.get(table.sweep, 0) + 1
                table.plot = f"{table.sweep}-{per_sweep[table.sweep]}.png"
                plot_table(table, tmp / table.plot)
        (tmp / "TABLES.md").write_text(tables_markdown(tables))
        (tmp / TABLES_JSON).write_text(json.dumps({"tables": [t.as_dict() for t in tables]}, indent=2) + "\n")
    return tables


def summary(tables: list[SweepTable], out: Path, kfold_of: str | None = None) -> str:
    """What writing the tables prints: the rows of each, where they went, and the k-fold means of sweep `kfold_of`."""
    lines = [f"{t.sweep} on {t.dataset} (commit {t.baseline[:7]}): {len(t.rows)} row(s)"
             + (f", {len(t.failed)} failed" if t.failed else "") for t in tables]
    lines.append(f"tables: {out / 'TABLES.md'}")
    for table in (t for t in tables if t.sweep == kfold_of and t.aggregate):
        agg = table.aggregate
        lines.append(f"{table.sweep} on {table.dataset}, {agg['folds_done']} of {agg['k']} folds "
                     f"({settings_text(table)}): softmax {fmt.mean_sd(agg['softmax_accuracy'])} %, "
                     f"SVM {fmt.mean_sd(agg['svm_accuracy'])} %, "
                     f"SVM − softmax {fmt.mean_sd(agg['svm_minus_softmax'], signed=True)} points")
    return "\n".join(lines)


def _matching_rows(tables: list[SweepTable], sweep: str, wanted: dict[str, object]) -> list[dict[str, Any]]:
    """The rows of `sweep` whose table settings and swept value match `wanted` (dotted keys), oldest first."""
    found = [row for table in tables if table.sweep == sweep for row in table.rows
             if all({**table.settings, table.param: row["value"]}.get(k, object()) == v for k, v in wanted.items())]
    require(bool(found), f"the tables list no experiment of sweep {sweep} with "
            + ", ".join(f"{k}={fmt.plain(v)}" for k, v in wanted.items()))
    return found


def find_experiment(tables: list[SweepTable], sweep: str, wanted: dict[str, object]) -> str:
    """The newest experiment of `sweep` whose table settings and swept value match `wanted` (dotted keys)."""
    return _matching_rows(tables, sweep, wanted)[-1]["experiment"]


def lowest_value(tables: list[SweepTable], sweep: str, wanted: dict[str, object], column: str) -> Any:
    """The swept value of the matching row with the lowest `column` (val_error: the value chosen on val)."""
    rows = [row for row in _matching_rows(tables, sweep, wanted) if row.get(column) is not None]
    require(bool(rows), f"no experiment of sweep {sweep} with these parameters has a {column}")
    return min(rows, key=lambda row: row[column])["value"]
