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

from ferpipe.core.cli import run_stage
from ferpipe.core.errors import FerpipeError, require
from ferpipe.experiments.plan import PARAMS_FILE, plan
from ferpipe.experiments.queue import error_line, preflight, run_queued
from ferpipe.experiments.results import sweep_experiments
from ferpipe.experiments.sweeps import SWEEPS_FILE, experiment_names, load_sweeps
from ferpipe.report.tables_command import TABLES_DIR, summary, write_tables


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
    statuses = run_queued(dict(zip(names, points)), args.jobs)
    failed = [n for n, status in statuses.items() if status != "Success"]
    for name in failed:
        print(f"experiment {name} {statuses[name].lower()}: {error_line(name) or f'see `dvc queue logs {name}`'}")
    tables = write_tables(Path(args.out), sweep_experiments(), sweeps)
    print(summary(tables, Path(args.out), kfold_of=sweep.name))
    if failed:
        raise FerpipeError(f"{len(failed)} of {len(names)} experiments of sweep {sweep.name} did not succeed: "
                           + ", ".join(failed))


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
