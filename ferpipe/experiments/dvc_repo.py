"""DVC, reached two ways: its command line in a subprocess for what it does (`run_dvc`), and its Python
API on the repository of the working directory for what it knows (`read_dvc`), so that DVC's state is
read as data, never from text printed for people; and `git`, for the repository DVC's experiments live in."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ferpipe.core.errors import FerpipeError

if TYPE_CHECKING:
    from dvc.repo import Repo

T = TypeVar("T")


def git(*args: str) -> subprocess.CompletedProcess:
    """`git ARGS` in the working directory, its output captured and its failure returned, not raised."""
    return subprocess.run(["git", *args], check=False, text=True, capture_output=True)


def run_dvc(*args: str, stream: bool = False) -> str:
    """`dvc ARGS` with this interpreter's DVC; `stream` passes its output through instead of returning it."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], check=False, text=True,
                          stdout=None if stream else subprocess.PIPE, stderr=None if stream else subprocess.PIPE)
    if proc.returncode != 0:
        detail = "" if stream else (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        raise FerpipeError(f"`dvc {' '.join(args[:3])} ...` failed{': ' + detail[0] if detail else ''}")
    return proc.stdout or ""


def read_dvc(what: str, read: Callable[[Repo], T]) -> T:
    """`read(repo)` on the DVC repository of the working directory. A DVC without that API (another
    version) or one that refuses is one error naming `what`: the state is not guessed instead."""
    import dvc
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            return read(repo)
    except NotDvcRepoError as exc:
        raise FerpipeError(f"{Path.cwd()}: not a DVC repository, so no {what} (run from the project's root)") from exc
    except (AttributeError, DvcException) as exc:
        raise FerpipeError(f"cannot read {what} through DVC {dvc.__version__}'s Python API: {exc}") from exc


def unexpected(what: str, value: object) -> FerpipeError:
    """The error for DVC data that is not in the shape ferpipe reads (DVC 3's)."""
    return FerpipeError(f"DVC's {what} is not in the shape ferpipe reads (DVC 3's): got {value!r:.200}")


def error_line_of(log: str) -> str:
    """Why a DVC run failed, from its output: the stage's `error:` line, else DVC's first `ERROR:` line."""
    lines = [line.strip() for line in log.splitlines()]
    return (next((line for line in lines if line.startswith("error:")), None)
            or next((line for line in lines if line.startswith("ERROR:")), ""))
