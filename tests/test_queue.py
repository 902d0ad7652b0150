"""Waiting on DVC's queue (ferpipe.experiments.queue), with `dvc queue status` and the clock replaced."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from ferpipe.core.errors import FerpipeError, Terminated
from ferpipe.experiments import queue


@pytest.fixture
def clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(queue.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(queue.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    return now


def replay(monkeypatch, answers):
    """`queue_statuses` answers these (status of `exp`, workers) in turn, then the last one for ever."""
    answers, last = iter(answers), [None]

    def statuses():
        last[0] = next(answers, last[0])
        status, workers = last[0]
        return {"exp": status}, workers

    monkeypatch.setattr(queue, "queue_statuses", statuses)


def test_a_queued_experiment_is_waited_for_while_a_worker_starts(monkeypatch, clock):
    replay(monkeypatch, [("Queued", 0)] * 5 + [("Queued", 1)] * 50 + [("Running", 1)])
    assert queue.wait_while_queued("exp") == "Running"
    assert clock[0] == 55 * queue.POLL_SECONDS


def test_waiting_stops_when_no_worker_is_left_to_run_it(monkeypatch, clock):
    replay(monkeypatch, [("Queued", 1)] * 3 + [("Queued", 0)])
    with pytest.raises(FerpipeError, match="experiment exp is still queued and no dvc queue worker has run for 60 s"):
        queue.wait_while_queued("exp")
    assert 60 <= clock[0] - 3 * queue.POLL_SECONDS <= 60 + queue.POLL_SECONDS


# What DVC 3.67's celery queue answers: status(), one dict per task.
TASKS = [
    {"rev": "4f1a2b3c" * 5, "name": "table4-20261130T010700-1", "timestamp": datetime(2026, 11, 30, 1, 7),
     "status": "Running"},
    {"rev": "9c8d7e6f" * 5, "name": "table4-20261130T010700-2", "timestamp": datetime(2026, 11, 30, 1, 7),
     "status": "Queued"},
    {"rev": "0a1b2c3d" * 5, "name": None, "timestamp": datetime(2026, 11, 29, 9, 0), "status": "Failed"},
]


def test_statuses_are_read_from_dvcs_queue_api():
    assert queue.queue_state(TASKS) == {"table4-20261130T010700-1": "Running", "table4-20261130T010700-2": "Queued"}
    assert queue.queue_state([]) == {}


@pytest.mark.parametrize("tasks", [[{**TASKS[0], "status": "Unknown"}],  # an experiment of an older DVC
                                   "No experiment tasks in the queue."])
def test_a_queue_answer_of_another_shape_is_an_error_not_a_guess(tasks):
    with pytest.raises(FerpipeError, match="not in the shape ferpipe reads"):
        queue.queue_state(tasks)


@pytest.fixture
def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def record(folder, name, pid, returncode):
    """A worker record as DVC 3.67 writes it in its celery folder."""
    (folder / f"{name}.json").write_text(json.dumps(
        {"pid": pid, "stdin": None, "stdout": str(folder / f"{name}.out"), "stderr": None, "returncode": returncode}))


def test_a_worker_counts_while_its_process_runs_with_no_return_code(tmp_path, dead_pid):
    assert queue.live_workers(tmp_path) == 0
    record(tmp_path, "dvc-exp-worker-1", os.getpid(), None)
    record(tmp_path, "dvc-exp-worker-2", os.getpid(), 0)  # ended
    record(tmp_path, "dvc-exp-worker-3", dead_pid, None)  # killed
    (tmp_path / "dvc-exp-worker-1.out").write_text("celery@dvc-exp-1 ready.")
    assert queue.live_workers(tmp_path) == 1


@pytest.mark.parametrize("text", ['{"pid": 1}', "", '["dvc-exp-worker-1"]'])
def test_a_worker_record_of_another_shape_is_an_error_not_a_guess(tmp_path, text):
    (tmp_path / "dvc-exp-worker-1.json").write_text(text)
    with pytest.raises(FerpipeError, match="worker record dvc-exp-worker-1.json"):
        queue.live_workers(tmp_path)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, Terminated])
def test_an_interrupted_sweep_takes_its_experiments_out_of_the_queue(monkeypatch, capsys, interruption):
    """Behind another sweep's running experiment, it says it waits; stopped, it removes its queued experiments
    and kills its running one, and leaves the other's alone."""
    states = {"other-1": "Running", "mine-1": "Queued", "mine-2": "Queued"}
    calls = []
    monkeypatch.setattr(queue, "queue", lambda name, overrides, target: calls.append(("queue", name)))
    monkeypatch.setattr(queue, "queue_statuses", lambda: (dict(states), 1))
    monkeypatch.setattr(queue, "start_queue", lambda jobs: states.update({"mine-1": "Running"}))
    monkeypatch.setattr(queue.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(interruption()))
    monkeypatch.setattr(queue, "run_dvc", lambda *args: calls.append(args))
    with pytest.raises(interruption):
        queue.run_queued({"mine-1": ["lr=0.1"], "mine-2": ["lr=0.2"]}, jobs=1)
    assert calls == [("queue", "mine-1"), ("queue", "mine-2"), ("queue", "remove", "mine-2"), ("queue", "kill", "mine-1")]
    out, err = capsys.readouterr()
    assert "waiting behind 1 experiment(s) already in DVC's queue (other-1)" in out
    assert "1 queued removed, 1 running killed" in err


def test_until_queues_each_experiment_up_to_that_stage(monkeypatch):
    calls = []
    monkeypatch.setattr(queue, "run_dvc", lambda *args: calls.append(args))
    queue.queue("mine-1", ["lr=0.1"], "compare")
    queue.queue("mine-2", ["lr=0.2"])
    assert calls == [("exp", "run", "--queue", "-n", "mine-1", "-S", "lr=0.1", "compare"),
                     ("exp", "run", "--queue", "-n", "mine-2", "-S", "lr=0.2")]
