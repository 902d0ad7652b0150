"""A sweep table's plot: val and test error (softmax, SVM) against the swept value, the paper's figures as crosses."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ferpipe.core.figures import save_png  # noqa: E402
from ferpipe.report import fmt  # noqa: E402
from ferpipe.report.render import LABELS  # noqa: E402
from ferpipe.report.sweep_table import SweepTable  # noqa: E402


def _x_axis(values: list[Any]) -> tuple[list[float], list[str], bool]:
    """Positions, tick labels and whether the axis is logarithmic (numbers spanning a factor of 10 or more)."""
    labels = [fmt.plain(v) for v in values]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric and values and min(values) > 0 and max(values) / min(values) >= 10:
        return [float(v) for v in values], labels, True
    if numeric:
        return [float(v) for v in values], labels, False
    return [float(i) for i in range(len(values))], labels, False


def plot_table(table: SweepTable, path: str | Path) -> None:
    rows = table.rows
    x, labels, log = _x_axis([r["value"] for r in rows])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    series = [("val_error", "val error", "o-"), ("test_error", "test error (softmax)", "s-"),
              ("svm_test_error", "test error (SVM)", "^--")]
    for key, label, style in series:
        points = [(xi, r[key]) for xi, r in zip(x, rows) if r[key] is not None]
        if points:
            ax.plot(*zip(*points), style, label=label)
    for key, marker in (("test_error", "x"), ("val_error", "+")):
        points = [(xi, r["paper"][key]) for xi, r in zip(x, rows) if key in r["paper"]]
        if points:
            ax.plot(*zip(*points), marker, color="black", markersize=9, linestyle="none",
                    label=f"paper's {key.replace('_', ' ')}")
    if log:
        ax.set_xscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.minorticks_off()
    ax.set_xlabel(LABELS.get(table.param, table.param))
    ax.set_ylabel("error %")
    ax.set_ylim(0, 100)
    ax.set_title(f"{table.sweep} on {table.dataset}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path, dpi=90)
