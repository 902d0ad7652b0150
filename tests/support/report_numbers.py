"""Checks that every number of a generated REPORT.md comes from its sources (metrics, params, tables, paper.yaml).

A number in the report may be a source number as it is (to one or two decimals), as a percentage, as an error percentage
(100 - accuracy %), as a signed difference, as a p-value, or a bound of the exact 95% interval of a
proportion measured on n test images. The interval is recomputed here with scipy, independently of
the report's code. Code spans (experiment names, commit hashes) and link targets are not numbers.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from scipy.stats import binomtest

NUMBER = re.compile(r"\d+(?:\.\d+)?")
NAMES = re.compile(r"FER-2013|ResNet-50|GENKI-4K|2-D")
FIXED_TEXT = {"95"}  # the confidence level of the intervals


def leaves(value: Any) -> Iterable[float]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        yield float(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from leaves(v)
    elif isinstance(value, str):
        yield from (float(n) for n in NUMBER.findall(value))


def renderings(x: float) -> set[str]:
    out = {f"{x:.1f}", f"{x:.2f}", f"{100 * x:.1f}", f"{100 * (1 - x):.1f}", f"{100 - x:.1f}", f"{x:.3g}", f"{100 * x:.3g}"}
    if float(x).is_integer():
        out.add(str(int(x)))
    return {s.lstrip("+-") for s in out}


def interval_bounds(fraction: float, n: int) -> set[str]:
    ci = binomtest(round(fraction * n), n).proportion_ci(confidence_level=0.95, method="exact")
    return {f"{100 * ci.low:.1f}", f"{100 * ci.high:.1f}"}


def allowed_numbers(sources: Iterable[Any], proportions: Iterable[tuple[float, int]]) -> set[str]:
    allowed = set(FIXED_TEXT)
    for source in sources:
        for x in leaves(source):
            allowed |= renderings(x)
    for fraction, n in proportions:
        allowed |= interval_bounds(fraction, n)
    return allowed


def report_numbers(markdown: str) -> list[str]:
    text = re.sub(r"`[^`]*`", " ", markdown)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = NAMES.sub(" ", text)
    return NUMBER.findall(text)


def untraced_numbers(markdown: str, allowed: set[str]) -> list[str]:
    return sorted({n for n in report_numbers(markdown) if n not in allowed})


def table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    """The cells of the Markdown table rows whose first cell is `first_cell`."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            rows.append(cells)
    return rows
