"""Running DVC experiments through its queue: the checks `dvc exp run` needs, queueing, waiting.

`dvc exp run --queue` runs each experiment in a temporary copy of the last commit plus the
workspace's changes, so a params.yaml left modified by an earlier `dvc exp run` would silently
become part of every queued experiment: `preflight` refuses that, and a missing commit or git
identity, with one clear message each.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time

from ferpipe.core.errors import FerpipeError, require

POLL_SECONDS = 3
WORKERLESS_SECONDS = 60  # a worker starting up registers within seconds


def run_dvc(*args: str, stream: bool = False) -> str:
    """`dvc ARGS` with this interpreter's DVC; `stream` passes its output through instead of returning it."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], check=False, text=True,
                          stdout=None if stream else subprocess.PIPE, stderr=None if stream else subprocess.PIPE)
    if proc.returncode != 0:
        detail = "" if stream else (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        raise FerpipeError(f"`dvc {' '.join(args[:3])} ...` failed{': ' + detail[0] if detail else ''}")
    return proc.stdout or ""


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], check=False, text=True, capture_output=True)


def preflight(params_file: str = "params.yaml") -> str:
    """Check what `dvc exp run --queue` needs; returns the commit the experiments start from."""
    head = _git("rev-parse", "--verify", "-q", "HEAD")
    require(head.returncode == 0, "dvc exp run needs a git commit: run `git add -A && git commit` first")
    for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        require(_git("var", who).returncode == 0, "dvc exp run commits each experiment and needs a git identity: "
                "git config user.name NAME && git config user.email EMAIL")
    require(_git("diff", "--quiet", "HEAD", "--", params_file).returncode == 0,
            f"{params_file} differs from the last commit (`dvc exp run` leaves an experiment's params there), and "
            f"queued experiments would include the change: `git checkout {params_file}` or commit it, then rerun")
    return head.stdout.strip()


def queue(name: str, overrides: list[str]) -> None:
    args = ["exp", "run", "--queue", "-n", name]
    for text in overrides:
        args += ["-S", text]
    run_dvc(*args)


def queue_statuses() -> tuple[dict[str, str], int]:
    """Experiment name -> Queued | Running | Success | Failed, and how many workers run, from `dvc queue
    status` (rows `task name created status`, where created may hold a space; `Worker status: A active, I idle`)."""
    text = run_dvc("queue", "status")
    rows = [line.split() for line in text.splitlines()]
    workers = re.search(r"Worker status: (\d+) active, (\d+) idle", text)
    return ({fields[1]: fields[-1] for fields in rows if len(fields) >= 4 and fields[0] not in ("Task", "Worker")},
            int(workers[1]) + int(workers[2]) if workers else 1)


def wait_while_queued(name: str) -> str | None:
    """Poll until `name` leaves the Queued state; its status then. Stops with an error when no worker has
    run for WORKERLESS_SECONDS while it waits (a worker died, or left before taking it)."""
    workerless_since = None
    while True:
        statuses, workers = queue_statuses()
        if statuses.get(name) != "Queued":
            return statuses.get(name)
        workerless_since = (workerless_since or time.monotonic()) if workers == 0 else None
        require(workerless_since is None or time.monotonic() - workerless_since < WORKERLESS_SECONDS,
                f"experiment {name} is still queued and no dvc queue worker has run for {WORKERLESS_SECONDS} s: "
                f"`dvc queue start` runs it, `dvc queue logs {name}` after")
        time.sleep(POLL_SECONDS)


def start_queue(jobs: int) -> None:
    """`dvc queue start`. Its output goes to a file, not a pipe: the worker it leaves running in the
    background inherits the output, and a pipe would stay open (and this call blocked) until the worker ends."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", str(jobs)], check=False,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True)
        out.seek(0)
        text = out.read().strip()
    require(proc.returncode == 0, f"`dvc queue start` failed: {text.splitlines()[-1] if text else proc.returncode}")


def run_queue(names: list[str], jobs: int) -> dict[str, str]:
    """Start the queue and wait for `names`, showing each one's log as it runs; returns their final status."""
    start_queue(jobs)
    try:
        for name in names:
            status = wait_while_queued(name)
            print(f"\n==== experiment {name} ====", flush=True)
            if status is not None:  # its log so far, followed while it runs (a worker may have run it already)
                subprocess.run([sys.executable, "-m", "dvc", "queue", "logs", "-f", name], check=False)
        while {(statuses := queue_statuses()[0]).get(name) for name in names} & {"Queued", "Running"}:
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        print("\nstopped waiting; the queue keeps running: `dvc queue status`, `dvc queue kill NAME`",
              file=sys.stderr)
        raise
    return {name: statuses.get(name, "missing") for name in names}


def error_line(name: str) -> str:
    """Why an experiment failed: the stage's `error:` line in its log, else DVC's first `ERROR:` line."""
    try:
        log = run_dvc("queue", "logs", name)
    except FerpipeError:
        return ""
    lines = [line.strip() for line in log.splitlines()]
    return (next((line for line in lines if line.startswith("error:")), None)
            or next((line for line in lines if line.startswith("ERROR:")), ""))
