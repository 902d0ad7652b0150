"""`python -m ferpipe sweep NAME [-S key=value ...]`: queue a sweep of sweeps.yaml as DVC experiments, run them, write the tables.

Each value of the sweep's grid becomes one `dvc exp run --queue -n NAME-<time>-<i> -S ...` (the
sweep's `set` overrides, then the -S overrides given here, then the swept value); `dvc queue start`
runs them (--jobs at a time) while this command shows each one's log, then writes the tables
(`python -m ferpipe tables`). Every experiment's parameters are checked by the stages' own checks
before anything is queued. The k-fold sweep (`kfold`) runs fetch.fold = 0..k-1 and the tables give
the mean and standard deviation of softmax and SVM accuracy and of their difference over the folds.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ferpipe.core.cli import run_stage
from ferpipe.core.errors import FerpipeError, require
from ferpipe.report import fmt
from ferpipe.report.experiments import exp_show, parse_exp_show, sweep_baselines
from ferpipe.report.overrides import (
    apply_overrides,
    check_single_values,
    check_stage_params,
    override,
    override_key,
)
from ferpipe.report.queue import error_line, preflight, queue, run_queue
from ferpipe.report.render import settings_text
from ferpipe.report.sweeps import SWEEPS_FILE, Sweep, experiment_names, load_sweeps
from ferpipe.report.tables_command import TABLES_DIR, summary, write_tables

PARAMS_FILE = "params.yaml"


def check_folds_fit(params: dict[str, Any], source: str) -> None:
    """k-fold: k must not exceed the subjects (or the images of the smallest class) of the dataset;
    loads the dataset's index once (as the fetch stage would) to know."""
    from ferpipe.data.fetch import FetchSettings, apply_folds, load_records

    settings = FetchSettings.from_params(params, source)
    classes, records = load_records(settings)
    apply_folds(settings, records, classes)


def plan(sweep: Sweep, extra: list[str]) -> list[list[str]]:
    """The overrides of each experiment of the sweep, every one checked; raises FerpipeError on the first bad one."""
    check_single_values(extra)
    typed = {override_key(t) for t in extra}
    require(sweep.param not in typed,
            f"-S {sweep.param}=...: {sweep.param} is what sweep {sweep.name} varies; its values come from {SWEEPS_FILE}")
    base = [override(k, v) for k, v in sweep.fixed.items() if k not in typed] + list(extra)
    source = f"{PARAMS_FILE} with the overrides of sweep {sweep.name}"
    points = [base + [override(sweep.param, value)] for value in sweep.grid(apply_overrides(PARAMS_FILE, base))]
    for overrides in points:
        params = apply_overrides(PARAMS_FILE, overrides)
        check_stage_params(params, source=f"{source} ({overrides[-1]})")
    if sweep.is_kfold:
        check_folds_fit(params, source)
    return points


def _main(argv: list[str] | None) -> None:
    sweeps = load_sweeps(SWEEPS_FILE) if Path(SWEEPS_FILE).is_file() else {}
    parser = argparse.ArgumentParser(prog="python -m ferpipe sweep", description=__doc__.splitlines()[0])
    parser.add_argument("name", help=f"a sweep of {SWEEPS_FILE}: {', '.join(sweeps) or '(none found)'}")
    parser.add_argument("-S", "--set-param", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for every experiment of the sweep, as in `dvc exp run -S` (repeatable)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="experiments run at once (default: 1)")
    parser.add_argument("--out", default=TABLES_DIR, help=f"where the tables go (default: {TABLES_DIR})")
    args = parser.parse_args(argv)
    require(args.name in sweeps, f"{SWEEPS_FILE}: no sweep {args.name!r}; the sweeps are: {', '.join(sweeps)}")
    require(args.jobs >= 1, f"--jobs must be at least 1, got {args.jobs}")
    sweep = sweeps[args.name]
    points = plan(sweep, args.overrides)
    preflight(PARAMS_FILE)
    names = experiment_names(sweep.name, len(points))
    for name, overrides in zip(names, points):
        queue(name, overrides)
        print(f"queued {name}: -S " + " -S ".join(overrides), flush=True)
    statuses = run_queue(names, args.jobs)
    failed = [n for n, status in statuses.items() if status != "Success"]
    for name in failed:
        print(f"experiment {name} {statuses[name].lower()}: {error_line(name) or f'see `dvc queue logs {name}`'}")
    tables = write_tables(Path(args.out), parse_exp_show(exp_show(sweep_baselines())), sweeps)
    print(summary(tables))
    print(f"tables: {Path(args.out) / 'TABLES.md'}")
    for table in (t for t in tables if t.sweep == sweep.name and t.aggregate):
        agg = table.aggregate
        print(f"{sweep.name} on {table.dataset}, {agg['folds_done']} of {agg['k']} folds ({settings_text(table)}): "
              f"softmax {fmt.mean_sd(agg['softmax_accuracy'])} %, SVM {fmt.mean_sd(agg['svm_accuracy'])} %, "
              f"SVM − softmax {fmt.mean_sd(agg['svm_minus_softmax'], signed=True)} points")
    if failed:
        raise FerpipeError(f"{len(failed)} of {len(names)} experiments of sweep {sweep.name} did not succeed: "
                           + ", ".join(failed))


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
