"""`python -m ferpipe sweep NAME [-S key=value ...]`: queue a sweep of sweeps.yaml as DVC experiments, run them, write the tables.

Each value of the sweep's grid becomes one `dvc exp run --queue -n NAME-<time>-<i> -S ...` (the
sweep's `set` overrides, then the -S overrides given here, then the swept value); `dvc queue start`
runs them (--jobs at a time) while this command shows each one's log, then writes the tables
(`python -m ferpipe tables`). Every experiment's parameters are checked by the stages' own checks
before anything is queued. The k-fold sweep (`kfold`) runs fetch.fold = 0..k-1 and the tables give
the mean and standard deviation of softmax and SVM accuracy and of their difference over the folds.

With `--ray [ADDRESS]` the experiments run as Ray tasks on a cluster instead of DVC's queue, each in its own
clone on its node, sent back with `dvc exp push` (ferpipe.experiments.ray_runner, docs/cluster.md).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ferpipe.core.cli import run_stage
from ferpipe.core.errors import FerpipeError, require
from ferpipe.experiments.plan import PARAMS_FILE, plan
from ferpipe.experiments.queue import dvc_stages, error_line, preflight, run_queued
from ferpipe.experiments.ray_runner import LOCAL, RayOptions, run_on_ray
from ferpipe.experiments.results import sweep_experiments
from ferpipe.experiments.sweeps import SWEEPS_FILE, experiment_names, load_sweeps
from ferpipe.registry import check_stage_params
from ferpipe.report.tables_folder import TABLES_DIR, summary, write_tables
from ferpipe.commands import help_description


def _main(argv: list[str] | None) -> None:
    sweeps = load_sweeps(SWEEPS_FILE) if Path(SWEEPS_FILE).is_file() else {}
    parser = argparse.ArgumentParser(prog="python -m ferpipe sweep", description=help_description(__doc__))
    parser.add_argument("name", help=f"a sweep of {SWEEPS_FILE}: {', '.join(sweeps) or '(none found)'}")
    parser.add_argument("-S", "--set-param", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for every experiment of the sweep, as in `dvc exp run -S` (repeatable)")
    parser.add_argument("-j", "--jobs", type=int, help="experiments run at once by DVC's queue (default: 1)")
    parser.add_argument("--until", metavar="STAGE", help="run each experiment up to this stage of dvc.yaml only (e.g. "
                        "compare: what the tables read, without export, generalize and report)")
    parser.add_argument("--out", default=TABLES_DIR, help=f"where the tables go (default: {TABLES_DIR})")
    cluster = parser.add_argument_group("on a Ray cluster (docs/cluster.md)")
    cluster.add_argument("--ray", nargs="?", const=LOCAL, metavar="ADDRESS",
                         help="run each experiment as a Ray task: `auto` (the cluster this machine is in), HOST:PORT, "
                              "ray://HOST:PORT, or nothing for a Ray instance on this machine")
    cluster.add_argument("--gpus-per-experiment", type=float,
                         help="GPUs each experiment asks Ray for (default: 1 where the cluster has GPUs, else 0)")
    cluster.add_argument("--cpus-per-experiment", type=float, help="CPUs each experiment asks Ray for (default: 1)")
    cluster.add_argument("--git-remote", help="the git remote the nodes clone from and push to (default: origin)")
    args = parser.parse_args(argv)
    require(args.name in sweeps, f"{SWEEPS_FILE}: no sweep {args.name!r}; the sweeps are: {', '.join(sweeps)}")
    require(args.jobs is None or args.jobs >= 1, f"--jobs must be at least 1, got {args.jobs}")
    on_cluster = (args.gpus_per_experiment, args.cpus_per_experiment, args.git_remote)
    require(args.ray is not None or on_cluster == (None, None, None),
            "--gpus-per-experiment, --cpus-per-experiment and --git-remote go with --ray")
    require(args.until is None or args.until in dvc_stages(), f"--until {args.until}: not a stage of dvc.yaml "
            f"({', '.join(dvc_stages())})")
    require(args.ray is None or args.jobs is None,
            "--jobs is for DVC's queue; with --ray the cluster's free resources decide how many run at once")
    sweep = sweeps[args.name]
    points = plan(sweep, args.overrides, check_stage_params)
    commit = preflight(PARAMS_FILE)
    experiments = dict(zip(experiment_names(sweep.name, len(points)), points))
    if args.ray is None:
        statuses = run_queued(experiments, args.jobs or 1, args.until)
        failures = {name: f"{status.lower()}: {error_line(name) or f'see `dvc queue logs {name}`'}"
                    for name, status in statuses.items() if status != "Success"}
    else:
        cpus = 1.0 if args.cpus_per_experiment is None else args.cpus_per_experiment
        options = RayOptions(address=args.ray, gpus=args.gpus_per_experiment, cpus=cpus,
                             git_remote=args.git_remote or "origin", until=args.until)
        failures = {name: f"failed: {result.error}" for name, result in
                    run_on_ray(experiments, commit, options).items() if result.status != "Success"}
    for name, why in failures.items():
        print(f"experiment {name} {why}")
    tables = write_tables(Path(args.out), sweep_experiments(), sweeps)
    print(summary(tables, Path(args.out), kfold_of=sweep.name))
    if failures:
        raise FerpipeError(f"{len(failures)} of {len(experiments)} experiments of sweep {sweep.name} did not "
                           "succeed: " + ", ".join(failures))


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
