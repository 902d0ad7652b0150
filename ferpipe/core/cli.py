"""What every stage script shares: argument parsing of params and paths, clean failure."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from tqdm import tqdm

from ferpipe.core.errors import FerpipeError


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main; bad input ends in one `error:` line on stderr and exit status 1."""
    try:
        main(argv)
    except FerpipeError as exc:
        for bar in list(getattr(tqdm, "_instances", ())):  # a bar left open by the failure: its line ends first
            bar.close()
        message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # one line, always
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    return parser
