"""What the `report` stage reads: metrics files, the sweep tables file and the parameters it describes the run with."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.params import ParamBlock
from ferpipe.report.sweep_table import SweepTable, flatten

# The parameters the report states (split protocol, network, training budget); declared in dvc.yaml.
REPORT_PARAMS = ("dataset", "fetch.ckplus_protocol", "fetch.folds", "fetch.fold", "arch", "weights", "lr", "batch_size",
                 "epochs", "n_kerns", "pool_size", "train.input_size", "train.steps_per_epoch", "train.schedule")


def read_json(path: str | Path, producer: str) -> dict[str, Any]:
    path = Path(path)
    require(path.is_file(), f"{path}: not found; {producer}")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FerpipeError(f"{path}: not valid JSON ({exc})") from exc
    require(isinstance(value, dict), f"{path}: expected a JSON object")
    return value


def report_params(params: dict[str, Any], source: str) -> dict[str, Any]:
    """The report's parameters, flattened (`train.steps_per_epoch`); a missing one is an error naming it."""
    return ParamBlock.top_level(flatten(params), REPORT_PARAMS, source).values


def read_tables(path: str | Path) -> list[SweepTable]:
    """The tables of `python -m ferpipe tables`; a file that lists none is an empty list."""
    doc = read_json(path, "it is written by `python -m ferpipe tables` (an empty one lists no table: {\"tables\": []})")
    tables = doc.get("tables")
    require(isinstance(tables, list), f"{path}: expected a `tables` list")
    try:
        return [SweepTable(**table) for table in tables]
    except TypeError as exc:
        raise FerpipeError(f"{path}: not a tables file of this ferpipe version ({exc}); rerun `python -m ferpipe tables`"
                           ) from exc
