"""What the `report` stage reads: metrics files, the sweep tables file and the parameters it describes the run with."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.records import RECORD_LIMIT, parse_json
from ferpipe.core.textfile import read_text
from ferpipe.report.settings import ReportParams
from ferpipe.report.sweep_table import SweepTable, flatten


def read_json(path: str | Path, producer: str) -> dict[str, Any]:
    path = Path(path)
    require(path.is_file(), f"{path}: not found; {producer}")
    value = parse_json(read_text(path, RECORD_LIMIT), str(path), allow_nan=True)
    require(isinstance(value, dict), f"{path}: expected a JSON object")
    return value


def report_params(params: dict[str, Any], params_file: str) -> dict[str, Any]:
    """The report's parameters, flattened (`train.steps_per_epoch`); a missing one is an error naming it."""
    return flatten(ReportParams.from_params(params, params_file).model_dump())


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
