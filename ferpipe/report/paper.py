"""The paper's own figures, read from paper.yaml (the one file of hand-typed numbers)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ferpipe.core.errors import require
from ferpipe.core.params import read_yaml

PAPER_FILE = "paper.yaml"
FIGURES = ("test_error", "val_error")  # what a sweep row of the paper may give, in %


@dataclass(frozen=True)
class PaperTable:
    name: str  # the sweep it belongs to
    where: str
    arch: str
    rows: list[dict[str, Any]]  # {<swept param>: value, test_error and/or val_error: %}

    def figures_for(self, param: str, value: Any) -> dict[str, float]:
        """The paper's error figures for `param` = `value` (empty when the paper gives none)."""
        for row in self.rows:
            if param in row and _same(row[param], value):
                return {k: float(row[k]) for k in FIGURES if k in row}
        return {}


@dataclass(frozen=True)
class Paper:
    table2: dict[str, Any]
    data: dict[str, Any]
    claims: dict[str, dict[str, Any]]
    tables: dict[str, PaperTable]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
    return list(a) == list(b) if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) else a == b


def load_paper(path: str | Path = PAPER_FILE) -> Paper:
    path = Path(path)
    doc = read_yaml(path, f"{path}: the paper's figures file not found")
    require(isinstance(doc, dict) and {"table2", "data", "claims", "tables"} <= set(doc),
            f"{path}: expected the blocks table2, data, claims and tables")
    tables = {}
    for name, table in (doc["tables"] or {}).items():
        require(isinstance(table, dict) and isinstance(table.get("rows"), list) and "where" in table,
                f"{path}: tables.{name} needs `where` and `rows`")
        tables[name] = PaperTable(name=name, where=str(table["where"]), arch=str(table.get("arch", "lenet")),
                                  rows=table["rows"])
    return Paper(table2=doc["table2"], data=doc["data"], claims=doc["claims"], tables=tables)
