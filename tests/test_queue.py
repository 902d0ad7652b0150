"""Waiting on DVC's queue (ferpipe.report.queue), with `dvc queue status` and the clock replaced."""
from __future__ import annotations

import pytest

from ferpipe.core.errors import FerpipeError
from ferpipe.report import queue


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


def test_statuses_and_workers_are_read_from_dvc_queue_status(monkeypatch):
    text = ("Task     Name        Created    Status\n4f1a2b3  table4-1    Nov 30, 2026  Running\n"
            "9c8d7e6  table4-2    01:07 AM   Queued\n\nWorker status: 1 active, 0 idle\n")
    monkeypatch.setattr(queue, "run_dvc", lambda *args: text)
    assert queue.queue_statuses() == ({"table4-1": "Running", "table4-2": "Queued"}, 1)
