"""`python -m ferpipe.commands.run_cache_push STAGE ...`: push to the DVC default remote the run-cache
entries of these stages, as they stand in the workspace, with every object those entries name
(ferpipe.experiments.run_cache says why `dvc push --run-cache` is not enough). A Ray task runs it."""
from __future__ import annotations

import sys

from ferpipe.core.cli import run_stage
from ferpipe.experiments.run_cache import push_run_cache


def _main(argv: list[str] | None) -> None:
    print(push_run_cache(sys.argv[1:] if argv is None else argv))


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)


if __name__ == "__main__":
    main()
