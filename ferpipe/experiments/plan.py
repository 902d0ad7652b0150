"""The plan of a sweep: the `-S` overrides of each of its experiments, every one checked by the stages' own
parameter checks before anything runs, so that a bad value is one error up front, not a failed experiment."""
from __future__ import annotations

from typing import Any, Callable

from ferpipe.core.errors import require
from ferpipe.experiments.overrides import (
    apply_overrides,
    check_single_values,
    override,
    override_key,
)
from ferpipe.experiments.sweeps import SWEEPS_FILE, Sweep

PARAMS_FILE = "params.yaml"


def check_folds_fit(params: dict[str, Any], params_file: str) -> None:
    """k-fold: k must not exceed the subjects (or the images of the smallest class) of the dataset;
    loads the dataset's index once (as the fetch stage would) to know."""
    from ferpipe.data.fetch import apply_folds, load_records
    from ferpipe.data.settings import FetchSettings

    settings = FetchSettings.from_params(params, params_file)
    classes, records = load_records(settings)
    apply_folds(settings, records, classes)


def plan(sweep: Sweep, extra: list[str], check: Callable[[dict[str, Any], str], None]) -> list[list[str]]:
    """The overrides of each experiment of the sweep (its `set`, then `extra`, then the swept value), every
    one's parameters checked by `check(params, params_file)` (the stages' checks:
    `ferpipe.registry.check_stage_params`); raises FerpipeError on the first bad one."""
    check_single_values(extra)
    typed = {override_key(t) for t in extra}
    require(sweep.param not in typed,
            f"-S {sweep.param}=...: {sweep.param} is what sweep {sweep.name} varies; its values come from {SWEEPS_FILE}")
    base = [override(k, v) for k, v in sweep.fixed.items() if k not in typed] + list(extra)
    params_file = f"{PARAMS_FILE} with the overrides of sweep {sweep.name}"
    points = [base + [override(sweep.param, value)] for value in sweep.grid(apply_overrides(PARAMS_FILE, base))]
    for i, overrides in enumerate(points):
        params = apply_overrides(PARAMS_FILE, overrides)
        check(params, f"{params_file} ({overrides[-1]})")
        if i == 0 and sweep.is_kfold:  # k is the same for every fold: before the other k - 1 points
            check_folds_fit(params, params_file)
    return points
