"""How numbers are written in the sweep tables and REPORT.md (one place, so a test can parse them back)."""
from __future__ import annotations

from typing import Any

MISSING = "—"


def percent(value: float | None) -> str:
    """A percentage (already x100), one decimal."""
    return MISSING if value is None else f"{value:.1f}"


def points(value: float | None) -> str:
    """A signed difference in percentage points, one decimal."""
    return MISSING if value is None else f"{value:+.1f}"


def p_value(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3g}"


def plain(value: Any) -> str:
    """A parameter value as typed in params.yaml: 0.05, 56, [20, 50]."""
    if value is None:
        return MISSING
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    return str(value)


def mean_sd(stats: dict[str, Any], signed: bool = False) -> str:
    """`mean ± sd` of a k-fold column (the sd needs two folds)."""
    if stats["mean"] is None:
        return MISSING
    mean = points(stats["mean"]) if signed else percent(stats["mean"])
    return mean if stats["sd"] is None else f"{mean} ± {percent(stats['sd'])}"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)
