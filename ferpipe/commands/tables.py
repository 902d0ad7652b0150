"""`python -m ferpipe tables`: the sweep tables, from `dvc exp show --json` (nothing is re-run).

Writes into --out (default sweeps/, replaced as a whole where it holds only what this command writes,
or ferpipe wrote it: ferpipe.core.outputs): TABLES.md (every table, the paper's
columns), one plot per table (error against the swept value, val and test), and tables.json (the
same rows, read by the `report` stage). With `--find SWEEP KEY=VALUE ...` it writes nothing and prints
the name of the newest experiment of --out's tables.json with those parameters (for scripts).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ferpipe.core.cli import run_stage
from ferpipe.core.errors import require
from ferpipe.core.params import parse_yaml
from ferpipe.experiments.overrides import override_key
from ferpipe.experiments.results import sweep_experiments
from ferpipe.experiments.sweeps import SWEEPS_FILE, load_sweeps
from ferpipe.report import fmt
from ferpipe.report.inputs import read_tables
from ferpipe.report.paper import PAPER_FILE
from ferpipe.report.tables_folder import TABLES_DIR, TABLES_JSON, find_experiment, lowest_value, summary, write_tables
from ferpipe.commands import help_description


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ferpipe tables", description=help_description(__doc__))
    parser.add_argument("--out", default=TABLES_DIR, help=f"output folder, replaced as a whole if this command wrote it (default: {TABLES_DIR})")
    parser.add_argument("--sweeps", default=SWEEPS_FILE, help=f"the sweeps file (default: {SWEEPS_FILE})")
    parser.add_argument("--paper", default=PAPER_FILE, help=f"the paper's figures (default: {PAPER_FILE})")
    parser.add_argument("--find", nargs="+", metavar="SWEEP [KEY=VALUE ...]",
                        help="print the newest experiment of SWEEP with these parameters in --out's tables.json")
    parser.add_argument("--lowest", metavar="COLUMN", help="with --find: print instead the swept value of the "
                        "matching experiment with the lowest COLUMN (e.g. val_error: the value chosen on val)")
    args = parser.parse_args(argv)
    require(args.lowest is None or args.find, "--lowest goes with --find")
    if args.find:
        wanted = {override_key(item): parse_yaml(item.partition("=")[2], f"--find {item}") for item in args.find[1:]}
        tables = read_tables(Path(args.out) / TABLES_JSON)
        print(fmt.plain(lowest_value(tables, args.find[0], wanted, args.lowest)) if args.lowest
              else find_experiment(tables, args.find[0], wanted))
        return
    sweeps = load_sweeps(args.sweeps)
    tables = write_tables(Path(args.out), sweep_experiments(), sweeps, args.paper)
    print(summary(tables, Path(args.out)))


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
