"""A stage's `main(argv)` run in-process, as its script runs it: through `run_stage`, which turns bad
input into one `error:` line and exit status 1. Fast: no new interpreter, frameworks imported once."""
from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path
from typing import Callable

from ferpipe.core.cli import run_stage

REPO = Path(__file__).resolve().parents[1]


def stage_function(stage: str) -> Callable[[list[str] | None], None]:
    """The `main` of stages/<stage>.py."""
    spec = importlib.util.spec_from_file_location(f"stage_{stage}", REPO / "stages" / f"{stage}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def call_main(main: Callable[[list[str] | None], None], *argv) -> tuple[int, list[str]]:
    """(exit status, stderr lines) of `main(argv)` run through `run_stage`."""
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err):
        try:
            run_stage(main, [str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue().splitlines()


def run_main(stage: str, *argv) -> tuple[int, list[str]]:
    """(exit status, stderr lines) of stages/<stage>.py's main with `argv`."""
    return call_main(stage_function(stage), *argv)


def expect_error(result: tuple[int, list[str]], message: str, outputs: list[Path] = ()) -> str:
    """A clean failure: exit status 1, exactly one `error:` line, holding `message` and ending stderr,
    no traceback, and none of `outputs` (nor a temporary copy of one) left. Returns the error line."""
    code, lines = result
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and lines[-1] == errors[0], "\n".join(lines[-20:])
    assert message in errors[0], errors[0]
    assert not any("Traceback" in line for line in lines)
    left = [p for out in outputs for p in (out, *out.parent.glob(f".{out.name}.tmp-*")) if p.exists()]
    assert not left, left
    return errors[0]
