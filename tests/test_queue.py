"""Waiting on DVC's queue (ferpipe.experiments.queue), with `dvc queue status` and the clock replaced."""
from __future__ import annotations

from datetime import datetime

import pytest

from ferpipe.core.errors import FerpipeError
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


# What DVC 3.67's celery queue answers: status() (one dict per task) and worker_status() (worker -> the
# tasks it runs: one busy worker, one idle).
TASKS = [
    {"rev": "4f1a2b3c" * 5, "name": "table4-20261130T010700-1", "timestamp": datetime(2026, 11, 30, 1, 7),
     "status": "Running"},
    {"rev": "9c8d7e6f" * 5, "name": "table4-20261130T010700-2", "timestamp": datetime(2026, 11, 30, 1, 7),
     "status": "Queued"},
    {"rev": "0a1b2c3d" * 5, "name": None, "timestamp": datetime(2026, 11, 29, 9, 0), "status": "Failed"},
]
WORKERS = {"dvc-exp-3f2a1c-1@localhost": [{"id": "a1b2", "name": "dvc.repo.experiments.queue.tasks.run_exp"}],
           "dvc-exp-3f2a1c-2@localhost": []}


def test_statuses_and_workers_are_read_from_dvcs_queue_api():
    assert queue.queue_state(TASKS, WORKERS) == (
        {"table4-20261130T010700-1": "Running", "table4-20261130T010700-2": "Queued"}, 2)
    assert queue.queue_state([], {}) == ({}, 0)  # no worker answering is none running


@pytest.mark.parametrize("tasks, workers", [
    ([{**TASKS[0], "status": "Unknown"}], WORKERS),  # an experiment of an older DVC
    ("No experiment tasks in the queue.", WORKERS),
    (TASKS, None),
])
def test_a_queue_answer_of_another_shape_is_an_error_not_a_guess(tasks, workers):
    with pytest.raises(FerpipeError, match="not in the shape ferpipe reads"):
        queue.queue_state(tasks, workers)
