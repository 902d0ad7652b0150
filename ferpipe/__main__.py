"""`python -m ferpipe COMMAND ...`: the commands users run beside the DVC pipeline.

Each command lives in its own module of ferpipe/commands/ with a `main(argv)`; this file only dispatches,
so that `python -m ferpipe --help` stays fast (no framework is imported before a command is chosen).
"""
from __future__ import annotations

import importlib
import sys

from ferpipe.core.cli import run_stage

# command -> (module with main(argv), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "params": ("ferpipe.commands.params", "check params.yaml as every stage does (check), or write docs/parameters.md (doc)"),
    "predict": ("ferpipe.commands.predict", "expression of every face in photos and videos, with the trained model"),
    "serve": ("ferpipe.commands.serve", "a web page (photos, live webcam, the model card) and a JSON API on the export"),
    "ship": ("ferpipe.commands.ship", "a network-only copy of an export with int8 weights, small enough to ship "
                                       "(models/<name>/), checked on the test crops"),
    "sweep": ("ferpipe.commands.sweep", "queue and run a sweep of sweeps.yaml (a paper table) as DVC experiments"),
    "tables": ("ferpipe.commands.tables", "the sweep tables and plots, from `dvc exp show --json`"),
    "traditional": ("ferpipe.commands.traditional", "the deep pipeline against LBP / HOG + SVM on the same test images "
                                                     "(the paper's Table 3 claim)"),
}


def usage() -> str:
    lines = ["usage: python -m ferpipe COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_text}" for name, (_, help_text) in sorted(COMMANDS.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    # run_stage here too: the command's imports (seconds of frameworks) can be interrupted as well
    run_stage(lambda args: importlib.import_module(COMMANDS[argv[0]][0]).main(args), argv[1:])


if __name__ == "__main__":
    main()
