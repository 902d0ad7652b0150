"""Running DVC experiments through its queue: the checks `dvc exp run` needs, queueing, waiting.

`dvc exp run --queue` runs each experiment in a temporary copy of the last commit plus the
workspace's changes, so a params.yaml left modified by an earlier `dvc exp run` (or any other
changed input: code, dvc.yaml, paper.yaml) would silently become part of every queued experiment:
`preflight` refuses that, and a missing commit or git identity, with one clear message each. What the queue holds and how many workers run is read through
DVC's queue API (`dvc queue status` prints it only as a table for people).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from typing import Any

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.params import read_yaml
from ferpipe.experiments.dvc_repo import error_line_of, read_dvc, run_dvc, unexpected

POLL_SECONDS = 3
WORKERLESS_SECONDS = 60  # a worker starting up registers within seconds
TASK_STATES = ("Queued", "Running", "Success", "Failed")  # those of DVC's queue status


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
    carried = [path for path in _git("diff", "--name-only", "HEAD").stdout.splitlines()
               if path not in pipeline_outputs()]
    require(not carried, f"{', '.join(carried[:5])}{' ...' if len(carried) > 5 else ''}: changed since the last "
            "commit, and every queued experiment would carry the change: commit it or undo it, then rerun")
    return head.stdout.strip()


def pipeline_outputs(dvc_file: str = "dvc.yaml") -> set[str]:
    """The git-tracked files the pipeline itself rewrites (dvc.lock and its stages' uncached outputs):
    changes to those are results, which each experiment writes anew, not inputs it would carry."""
    outputs = {"dvc.lock"}
    for stage in (read_yaml(dvc_file, f"{dvc_file} not found") or {}).get("stages", {}).values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                outputs.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return outputs


def queue(name: str, overrides: list[str]) -> None:
    args = ["exp", "run", "--queue", "-n", name]
    for text in overrides:
        args += ["-S", text]
    run_dvc(*args)


def queue_statuses() -> tuple[dict[str, str], int]:
    """Experiment name -> Queued | Running | Success | Failed, and how many queue workers are up, from
    DVC's celery queue (the `status()` and `worker_status()` that `dvc queue status` prints)."""
    return read_dvc("the queue's tasks and workers", lambda repo: queue_state(
        repo.experiments.celery_queue.status(), repo.experiments.celery_queue.worker_status()))


def queue_state(tasks: Any, workers: Any) -> tuple[dict[str, str], int]:
    """The statuses and worker count of `queue_statuses` from DVC's answers: tasks [{"name", "status", ...}],
    workers {worker: [its active tasks]} (none answering: {}). Any other shape is an error, not a guess."""
    if not (isinstance(tasks, list) and all(isinstance(t, dict) and t.get("status") in TASK_STATES for t in tasks)):
        raise unexpected("queue status (celery_queue.status)", tasks)
    if not isinstance(workers, dict):
        raise unexpected("worker status (celery_queue.worker_status)", workers)
    return {t["name"]: t["status"] for t in tasks if t.get("name")}, len(workers)


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


def run_queued(experiments: dict[str, list[str]], jobs: int) -> dict[str, str]:
    """Queue each experiment (name -> its -S overrides), run the queue with `jobs` workers and wait for
    them, showing each one's log as it runs; returns their final status (Success, Failed, ...)."""
    for name, overrides in experiments.items():
        queue(name, overrides)
        print(f"queued {name}: -S " + " -S ".join(overrides), flush=True)
    names = list(experiments)
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
    return error_line_of(log)
