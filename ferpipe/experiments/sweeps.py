"""The sweeps of sweeps.yaml: which parameter each one varies, over which values, with which fixed overrides.

A sweep's experiments are named `<sweep>-<YYYYmmddTHHMMSS>-<i>` (one time stamp per `sweep` command),
which is how the tables find them again in `dvc exp show`.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ferpipe.core.errors import require
from ferpipe.core.params import read_yaml

SWEEPS_FILE = "sweeps.yaml"
FOLD_KEY = "fetch.fold"
FOLDS_KEY = "fetch.folds"
ALL_FOLDS = "all"
_NAME = re.compile(r"[a-z0-9_]+")
_EXPERIMENT = re.compile(r"(?P<sweep>[a-z0-9_]+)-(?P<stamp>\d{8}T\d{6})-(?P<index>\d+)")


@dataclass(frozen=True)
class Sweep:
    name: str
    fixed: dict[str, Any]  # dotted key -> value, applied to every experiment of the sweep
    param: str  # the dotted key it varies
    values: list[Any] | None  # None: every fold 0..k-1 (param fetch.fold)

    @property
    def is_kfold(self) -> bool:
        return self.param == FOLD_KEY

    def grid(self, params: dict[str, Any]) -> list[Any]:
        """The values to run, given the parameters of the sweep's other overrides (k of a k-fold sweep)."""
        if self.values is not None:
            return list(self.values)
        k = params.get("fetch", {}).get("folds")
        require(isinstance(k, int) and not isinstance(k, bool) and k >= 2,
                f"sweep {self.name}: {FOLDS_KEY} must be k >= 2 to run every fold, got {k!r} (-S {FOLDS_KEY}=5)")
        return list(range(k))


def load_sweeps(path: str | Path = SWEEPS_FILE) -> dict[str, Sweep]:
    path = Path(path)
    doc = read_yaml(path, f"{path}: sweeps file not found")
    entries = doc.get("sweeps") if isinstance(doc, dict) else None
    require(isinstance(entries, dict) and entries, f"{path}: expected a `sweeps:` mapping of sweep name -> sweep")
    return {name: _sweep(name, entry, path) for name, entry in entries.items()}


def _sweep(name: Any, entry: Any, path: Path) -> Sweep:
    where = f"{path}: sweeps.{name}"
    require(isinstance(name, str) and bool(_NAME.fullmatch(name)),
            f"{where}: a sweep name is lowercase letters, digits and _")
    require(isinstance(entry, dict) and set(entry) <= {"set", "vary"} and "vary" in entry,
            f"{where}: expected `set:` (optional) and `vary:` (one parameter and its values)")
    fixed = entry.get("set") or {}
    vary = entry["vary"]
    require(isinstance(fixed, dict), f"{where}.set: expected a mapping of parameter -> value")
    require(isinstance(vary, dict) and len(vary) == 1, f"{where}.vary: expected exactly one parameter and its values")
    (param, values), = vary.items()
    if values == ALL_FOLDS:
        require(param == FOLD_KEY, f"{where}.vary: `{ALL_FOLDS}` stands for every fold and is for {FOLD_KEY} only")
        values = None
    else:
        require(isinstance(values, list) and len(values) >= 1, f"{where}.vary.{param}: expected a list of values")
    fixed = {k: v for k, v in fixed.items() if k != param}  # a shared `set` may name it too: the grid wins
    return Sweep(name=name, fixed=fixed, param=str(param), values=values)


def experiment_names(sweep: str, count: int, stamp: str | None = None) -> list[str]:
    stamp = stamp or time.strftime("%Y%m%dT%H%M%S")
    return [f"{sweep}-{stamp}-{i + 1}" for i in range(count)]


def sweep_of(experiment: str | None) -> str | None:
    """The sweep an experiment name belongs to, or None for an experiment made otherwise."""
    match = _EXPERIMENT.fullmatch(experiment or "")
    return match["sweep"] if match else None
