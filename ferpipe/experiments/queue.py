"""Running DVC experiments through its queue: the checks `dvc exp run` needs, queueing, waiting.

`dvc exp run --queue` runs each experiment in a temporary copy of the last commit plus the
workspace's changes, so a params.yaml left modified by an earlier `dvc exp run` (or any other
changed input: code, dvc.yaml, paper.yaml) would silently become part of every queued experiment:
`preflight` refuses that, and a missing commit or git identity, with one clear message each. What the queue
holds is read through DVC's queue API (`dvc queue status` prints it only as a table for people); which workers
live, from the records DVC keeps of their processes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ferpipe.core.errors import FerpipeError, Terminated, require
from ferpipe.core.params import read_yaml
from ferpipe.experiments.dvc_repo import error_line_of, git, read_dvc, run_dvc, unexpected

POLL_SECONDS = 3
START_SECONDS = 120  # `dvc queue start` spawns its workers and returns in seconds
FOLLOW_SECONDS = 120  # how long a log that DVC cannot show yet is asked for again
WORKERLESS_SECONDS = 60  # a worker starting up registers within seconds, and takes a task at once
TASK_STATES = ("Queued", "Running", "Success", "Failed")  # those of DVC's queue status
# The record of real-data runs: no stage reads it, and a results folder's run.sh writes its sweep log and
# tables there between the sweeps it queues, so changes there are not inputs an experiment would carry.
RECORDS = "results/"
WORKER_PREFIX = "dvc-exp-worker-"  # DVC 3 names queue worker N's record dvc-exp-worker-N.json


def preflight(params_file: str = "params.yaml") -> str:
    """Check what `dvc exp run --queue` needs; returns the commit the experiments start from."""
    head = git("rev-parse", "--verify", "-q", "HEAD")
    require(head.returncode == 0, "dvc exp run needs a git commit: run `git add -A && git commit` first")
    for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        require(git("var", who).returncode == 0, "dvc exp run commits each experiment and needs a git identity: "
                "git config user.name NAME && git config user.email EMAIL")
    require(git("diff", "--quiet", "HEAD", "--", params_file).returncode == 0,
            f"{params_file} differs from the last commit (`dvc exp run` leaves an experiment's params there), and "
            f"queued experiments would include the change: `git checkout {params_file}` or commit it, then rerun")
    carried = [path for path in git("diff", "--name-only", "HEAD").stdout.splitlines()
               if path not in pipeline_outputs() and not path.startswith(RECORDS)]
    require(not carried, f"{', '.join(carried[:5])}{' ...' if len(carried) > 5 else ''}: changed since the last "
            "commit, and every queued experiment would carry the change: commit it or undo it, then rerun")
    return head.stdout.strip()


def dvc_stages(dvc_file: str = "dvc.yaml") -> list[str]:
    return list((read_yaml(dvc_file, f"{dvc_file} not found") or {}).get("stages", {}))


def pipeline_outputs(dvc_file: str = "dvc.yaml") -> set[str]:
    """The git-tracked files the pipeline itself rewrites (dvc.lock and its stages' uncached outputs):
    changes to those are results, which each experiment writes anew, not inputs it would carry."""
    outputs = {"dvc.lock"}
    for stage in (read_yaml(dvc_file, f"{dvc_file} not found") or {}).get("stages", {}).values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                outputs.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return outputs


def queue(name: str, overrides: list[str], target: str | None = None) -> None:
    """Queue one experiment; with `target`, it runs that stage and the stages before it only."""
    args = ["exp", "run", "--queue", "-n", name]
    for text in overrides:
        args += ["-S", text]
    run_dvc(*args, *([target] if target else []))


def queue_statuses() -> tuple[dict[str, str], int]:
    """Experiment name -> Queued | Running | Success | Failed, and how many queue workers are alive.

    The workers are counted from DVC's process records, not with `celery_queue.worker_status()`: that
    broadcasts over celery's file broker, where a reader can take a reply file its worker has created but
    not yet written, and the whole call fails (JSONDecodeError), as it did with two workers (dvc-task #73)."""
    return read_dvc("the queue's tasks and workers", lambda repo: (
        queue_state(repo.experiments.celery_queue.status()),
        live_workers(Path(repo.experiments.celery_queue.wdir))))


def queue_state(tasks: Any) -> dict[str, str]:
    """The statuses of `queue_statuses` from DVC's answer, [{"name", "status", ...}]. Any other shape is an
    error, not a guess."""
    if not (isinstance(tasks, list) and all(isinstance(t, dict) and t.get("status") in TASK_STATES for t in tasks)):
        raise unexpected("queue status (celery_queue.status)", tasks)
    return {t["name"]: t["status"] for t in tasks if t.get("name")}


def live_workers(records: Path) -> int:
    """How many queue workers are alive, from the records DVC keeps of them in `records` (DVC 3: its celery
    folder, dvc-exp-worker-N.json, {"pid", "returncode", ...}): no return code while the worker runs, and a
    killed one leaves no process behind."""
    count = 0
    for path in sorted(records.glob(WORKER_PREFIX + "*.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue  # removed by DVC's clean-up since the listing
        except ValueError as exc:
            raise unexpected(f"worker record {path.name}", str(exc)) from exc
        if not (isinstance(info, dict) and isinstance(info.get("pid"), int) and "returncode" in info):
            raise unexpected(f"worker record {path.name}", info)
        count += info["returncode"] is None and process_exists(info["pid"])
    return count


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class WorkerKeeper:
    """Keeps a queue worker alive while this sweep's experiments wait in DVC's queue.

    DVC's worker (dvc-task's TemporaryWorker) stops itself when its monitor, every 10 s, sees no task: it
    asks the worker over the file broker with a 1 s timeout, so a worker busy training answers too late,
    and the tasks it has already taken from the queue are no longer listed there; it then stops after its
    running experiment and leaves the rest queued. So while any of `names` is queued and no worker lives,
    another is started, as long as the last one ran something of ours (the bound: a worker that ran nothing
    of ours in WORKERLESS_SECONDS is an error, not restarted for ever)."""

    def __init__(self, names: list[str], jobs: int):
        self.names, self.jobs = names, jobs
        self.started_at: float | None = None
        self.seen_at_start: tuple = ()

    def _ours(self, statuses: dict[str, str]) -> tuple:
        return tuple(statuses.get(name) for name in self.names)

    def start(self, statuses: dict[str, str] | None = None) -> None:
        start_queue(self.jobs)
        self.started_at = time.monotonic()
        self.seen_at_start = self._ours(statuses if statuses is not None else queue_statuses()[0])

    def check(self, statuses: dict[str, str], workers: int) -> None:
        """Called on each poll: start a worker where ours wait and none has lived for a while."""
        waiting = [name for name in self.names if statuses.get(name) == "Queued"]
        if not waiting or workers > 0:
            return
        if self.started_at is not None and time.monotonic() - self.started_at < WORKERLESS_SECONDS:
            return  # the worker started last may still be coming up
        require(self.started_at is None or self._ours(statuses) != self.seen_at_start,
                f"experiment {waiting[0]} is still queued and no dvc queue worker has run for {WORKERLESS_SECONDS} s: "
                f"`dvc queue start` runs it, `dvc queue logs {waiting[0]}` after")
        print(f"\nDVC's queue worker stopped with {len(waiting)} experiment(s) of this sweep still queued: "
              "starting another", file=sys.stderr, flush=True)
        self.start(statuses)


def wait_while_queued(name: str, keeper: WorkerKeeper) -> str | None:
    """Poll until `name` leaves the Queued state; its status then. `keeper` starts a worker where none is
    left while it waits, and stops the wait with an error where one started runs nothing."""
    while True:
        statuses, workers = queue_statuses()
        if statuses.get(name) != "Queued":
            return statuses.get(name)
        keeper.check(statuses, workers)
        time.sleep(POLL_SECONDS)


def start_queue(jobs: int) -> None:
    """`dvc queue start`. Its output goes to a file, not a pipe: the worker it leaves running in the
    background inherits the output, and a pipe would stay open (and this call blocked) until the worker ends.
    DVC starts each worker as the `dvc` it finds on PATH: this interpreter's folder goes first, so that the
    workers exist (and are this DVC) also where its environment is not activated."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryFile("w+") as out:
        try:
            proc = subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", str(jobs)], check=False,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True,
                                  env=dict(os.environ, PATH=path), timeout=START_SECONDS)
        except subprocess.TimeoutExpired as exc:
            raise FerpipeError(f"`dvc queue start` did not return within {START_SECONDS} s; see `dvc queue status`") from exc
        out.seek(0)
        text = out.read().strip()
    require(proc.returncode == 0, f"`dvc queue start` failed: {text.splitlines()[-1] if text else proc.returncode}")


def follow_log(name: str) -> None:
    """Show experiment `name`'s log, followed while it runs (`dvc queue logs -f`). DVC's worker marks an
    experiment Running before it writes the info file that `logs -f` reads, so a follow begun in that gap fails
    with "No such file or directory" before it prints anything: such a follow is tried again, for up to
    FOLLOW_SECONDS; any other failure, or one that lasts, is said in one line (the sweep goes on)."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    while True:
        proc = subprocess.run([sys.executable, "-m", "dvc", "queue", "logs", "-f", name], check=False,
                              stderr=subprocess.PIPE, text=True)
        problem = (proc.stderr or "").strip()
        if proc.returncode == 0:
            if problem:
                print(problem, file=sys.stderr, flush=True)
            return
        if "No such file or directory" not in problem or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    reason = error_line_of(problem) or (problem.splitlines() or [f"exit status {proc.returncode}"])[-1]
    print(f"the log of experiment {name} could not be shown ({reason}): "
          f"`dvc queue logs {name}` shows it later", file=sys.stderr, flush=True)


def run_queued(experiments: dict[str, list[str]], jobs: int, target: str | None = None) -> dict[str, str]:
    """Queue each experiment (name -> its -S overrides; up to the stage `target` where given), run the queue with `jobs` workers and wait for
    them, showing each one's log as it runs; returns their final status (Success, Failed, ...). Interrupted,
    it takes its experiments out of the queue again (`withdraw`)."""
    names: list[str] = []
    try:
        for name, overrides in experiments.items():
            queue(name, overrides, target)
            names.append(name)
            print(f"queued {name}: -S " + " -S ".join(overrides), flush=True)
        ahead = [n for n, s in queue_statuses()[0].items() if n not in experiments and s in ("Queued", "Running")]
        if ahead:
            print(f"waiting behind {len(ahead)} experiment(s) already in DVC's queue ({', '.join(ahead[:3])}"
                  f"{' ...' if len(ahead) > 3 else ''}): this sweep's run after them (`dvc queue status`)", flush=True)
        keeper = WorkerKeeper(names, jobs)
        keeper.start()
        for name in names:
            status = wait_while_queued(name, keeper)
            print(f"\n==== experiment {name} ====", flush=True)
            if status is not None:  # its log so far, followed while it runs (a worker may have run it already)
                follow_log(name)
        while True:
            statuses, workers = queue_statuses()
            if not {statuses.get(name) for name in names} & {"Queued", "Running"}:
                break
            keeper.check(statuses, workers)
            time.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, Terminated):
        withdraw(names)
        raise
    return {name: statuses.get(name, "missing") for name in names}


def withdraw(names: list[str]) -> None:
    """Take the experiments `names` out of DVC's queue: the queued ones removed, the running ones killed."""
    statuses = queue_statuses()[0]
    queued = [n for n in names if statuses.get(n) == "Queued"]
    running = [n for n in names if statuses.get(n) == "Running"]
    if queued:
        run_dvc("queue", "remove", *queued)
    if running:
        run_dvc("queue", "kill", *running)
    print(f"\nthe sweep's experiments left the queue: {len(queued)} queued removed, {len(running)} running killed",
          file=sys.stderr, flush=True)


def error_line(name: str) -> str:
    """Why an experiment failed: the stage's `error:` line in its log, else DVC's first `ERROR:` line."""
    try:
        log = run_dvc("queue", "logs", name)
    except FerpipeError:
        return ""
    return error_line_of(log)
