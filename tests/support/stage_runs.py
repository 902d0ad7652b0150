"""Running a stage script as `python stages/<name>.py ARGS` would (or a command's `main`), in this test
process or in a child.

In process is the default: a stage's bad-input path ends in `run_stage`'s `error:` line and exit status
1 whatever process it runs in, and a child costs seconds of interpreter and TensorFlow start-up. A
child is for what only a process boundary shows: the exit status the shell sees, a process killed
mid-run, a Keras backend other than this process's.
"""
from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from support import REPO

from ferpipe.core.cli import run_stage


def stage_main(stage: str) -> Callable[[list[str] | None], None]:
    """The `main` of stages/<stage>.py (the scripts are not a package: imported from their file once)."""
    name = f"_stage_{stage}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "stages" / f"{stage}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name].main


def run_main(main: Callable[[list[str]], None], args: list, cwd: Path) -> subprocess.CompletedProcess:
    """`main(args)` run in `cwd` as its script would run: its exit status (from SystemExit), stdout and stderr."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)  # as the interpreter exits
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def run_in_process(stage: str, args: list, cwd: Path) -> subprocess.CompletedProcess:
    """stages/<stage>.py `args` run in `cwd` through `run_stage`, as its `__main__` block does."""
    return run_main(lambda argv: run_stage(stage_main(stage), argv), args, cwd)


def stage_result(stage: str, *argv) -> tuple[int, list[str]]:
    """(exit status, stderr lines) of stages/<stage>.py `argv` run in this process, in the current folder."""
    return result_of(stage_main(stage), *argv)


def result_of(main: Callable[[list[str] | None], None], *argv) -> tuple[int, list[str]]:
    """(exit status, stderr lines) of `main(argv)` run in this process through `run_stage`."""
    proc = run_main(lambda args: run_stage(main, args), list(argv), Path.cwd())
    return proc.returncode, proc.stderr.splitlines()


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


def run_in_child(stage: str, args: list, cwd: Path, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """`python stages/<stage>.py args` in a child process (see `python_child`)."""
    return python_child([REPO / "stages" / f"{stage}.py", *args], cwd, **popen)


def python_child(args: list, cwd: Path, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """`python args` in a child process: finished (run), or started (with `popen`, Popen's keyword arguments)
    for a test that stops it."""
    cmd = [sys.executable, *map(str, args)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    if popen:
        return subprocess.Popen(cmd, cwd=cwd, env=env, **popen)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def curve(live: Path, name: str) -> list[float]:
    """The values of one metric, an epoch each, that the train stage's dvclive folder `live` logged."""
    with open(live / "plots" / "metrics" / f"{name}.tsv") as fh:
        return [float(row[name.split("/")[-1]]) for row in csv.DictReader(fh, delimiter="\t")]
