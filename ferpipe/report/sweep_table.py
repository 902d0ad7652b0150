"""One sweep table: its setting and rows, as the tables file (tables.json) keeps it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass
class SweepTable:
    sweep: str
    param: str
    baseline: str  # commit the experiments ran from
    dataset: str
    arch: str
    protocol: str  # how the data was split
    budget: str  # how long and how the network trained
    shorter_than_paper: bool  # fewer than the paper's 50 full epochs
    settings: dict[str, Any]  # parameters that differ from the baseline commit's params.yaml (and ALWAYS_SHOWN)
    rows: list[dict[str, Any]]
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # older runs of a value that a newer run replaces
    paper_where: str | None = None
    aggregate: dict[str, Any] | None = None  # k-fold sweeps: mean and sd over the folds
    plot: str | None = None  # file name of its plot, beside the tables

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
