"""What every stage script shares: argument parsing of params and paths, clean failure.

A stage's paths are written once, in its cmd in dvc.yaml: its script's options default to them, so
`python stages/<stage>.py` alone runs the stage as `dvc repro` does.

An interruption (SIGINT, Ctrl-C, or SIGTERM, as a scheduler or `kill` sends) unwinds like an error, so
that the staged outputs are removed, and ends in one line, `interrupted`, and the shell's exit status
for the signal (130, 143).
"""
from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from ferpipe.core.errors import DISK_FAULTS, FerpipeError, Terminated, printable
from ferpipe.core.params import read_yaml


MAX_LINE = 2000


def _terminate(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set a handler
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _end(line: str, code: int) -> None:
    for bar in list(getattr(tqdm, "_instances", ())):  # a bar left open by the failure: its line ends first
        bar.close()
    print(line, file=sys.stderr)
    sys.exit(code)


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main; bad input, a disk that is full, read-only or forbidden, or a path the system
    refuses (too long, not a folder) ends in one `error:` line on stderr and exit status 1, an interruption in `interrupted` and 130 (SIGINT) or 143 (SIGTERM)."""
    try:
        with _sigterm_raises():
            main(argv)
    except FerpipeError as exc:
        message = printable("; ".join(line.strip() for line in str(exc).splitlines() if line.strip()))  # one line
        if len(message) > MAX_LINE:  # a value echoed whole (a 5 MB string) would bury the cause
            message = message[:MAX_LINE] + f"... ({len(message):,} characters)"
        _end(f"error: {message}", 1)
    except OSError as exc:
        if exc.errno not in DISK_FAULTS and not exc.filename:  # one without a path is no file's fault: a bug
            raise
        _end(printable(f"error: {exc.filename or 'a file this command writes'}: {exc.strerror or exc}"), 1)
    except KeyboardInterrupt:
        _end("interrupted", 128 + signal.SIGINT)
    except Terminated:
        _end("interrupted", 128 + signal.SIGTERM)


def stage_argv(dvc_yaml: str | Path, stage: str) -> list[str]:
    """The arguments that `stage`'s cmd in `dvc_yaml` gives its script (after `python stages/<stage>.py`)."""
    words = shlex.split(read_yaml(dvc_yaml, f"{dvc_yaml}: not found (it holds the stages' paths)")["stages"][stage]["cmd"])
    return words[words.index(f"stages/{stage}.py") + 1:]


def stage_parser(description: str, script: str) -> argparse.ArgumentParser:
    """The parser of the stage script `script` (its `__file__`), with `--params`: each option the script
    adds without a default of its own defaults to the value its cmd in dvc.yaml (beside the stages
    folder) gives it."""
    path = Path(script).resolve()
    argv = stage_argv(path.parents[1] / "dvc.yaml", path.stem)
    flags, values = argv[::2], argv[1::2]
    if len(flags) != len(values) or not all(flag.startswith("--") for flag in flags):
        raise ValueError(f"dvc.yaml: the cmd of stage {path.stem} is not `--option value` pairs: {argv}")
    parser = argparse.ArgumentParser(description=description)
    parser.set_defaults(**{flag[2:].replace("-", "_"): value for flag, value in zip(flags, values)})
    parser.add_argument("--params", help="parameters file")
    return parser
