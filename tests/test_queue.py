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


def started_keeper(monkeypatch, names=("exp",)) -> "queue.WorkerKeeper":
    """A keeper whose worker was started now (start_queue counted, not run)."""
    starts = []
    monkeypatch.setattr(queue, "start_queue", lambda jobs: starts.append(jobs))
    keeper = queue.WorkerKeeper(list(names), 1)
    keeper.start({name: "Queued" for name in names})
    keeper.starts = starts
    return keeper


def test_a_queued_experiment_is_waited_for_while_a_worker_starts(monkeypatch, clock):
    keeper = started_keeper(monkeypatch)
    replay(monkeypatch, [("Queued", 0)] * 5 + [("Queued", 1)] * 50 + [("Running", 1)])
    assert queue.wait_while_queued("exp", keeper) == "Running"
    assert clock[0] == 55 * queue.POLL_SECONDS and len(keeper.starts) == 1


def test_waiting_stops_when_a_started_worker_runs_nothing_of_ours(monkeypatch, clock):
    keeper = started_keeper(monkeypatch)
    replay(monkeypatch, [("Queued", 1)] * 3 + [("Queued", 0)])
    with pytest.raises(FerpipeError, match="experiment exp is still queued and no dvc queue worker has run for 60 s"):
        queue.wait_while_queued("exp", keeper)
    assert 60 <= clock[0] <= 60 + queue.POLL_SECONDS and len(keeper.starts) == 1


def test_a_worker_that_stops_after_one_experiment_is_replaced_until_all_ran(monkeypatch, clock, capsys):
    """DVC's worker, its monitor fooled, stops after each experiment with the others still queued (the issue's
    three-experiment sweep): the sweep starts another while its experiments wait, and every one runs."""
    names = ["mine-1", "mine-2", "mine-3"]
    states = {name: "Queued" for name in names}
    worker = {"alive": False, "polls": 0}

    def start_queue(jobs):
        worker.update(alive=True, polls=0)

    def statuses():  # a live worker takes the next queued experiment, runs it for 30 polls, then stops
        if worker["alive"]:
            worker["polls"] += 1
            running = [n for n in names if states[n] == "Running"]
            if not running:
                states[next(n for n in names if states[n] == "Queued")] = "Running"
            elif worker["polls"] >= 30:
                states[running[0]] = "Success"
                worker["alive"] = False
        return dict(states), int(worker["alive"])

    monkeypatch.setattr(queue, "queue", lambda name, overrides, target: None)
    monkeypatch.setattr(queue, "start_queue", start_queue)
    monkeypatch.setattr(queue, "queue_statuses", statuses)
    monkeypatch.setattr(queue.subprocess, "run", lambda args, **k: subprocess.CompletedProcess(args, 0, None, ""))
    assert queue.run_queued({name: [] for name in names}, jobs=1) == {name: "Success" for name in names}
    assert capsys.readouterr().err.count("DVC's queue worker stopped with") == 2


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


RACE = ("ERROR: unexpected error - [Errno 2] No such file or directory: "
        "'.dvc/tmp/exps/run/0123abcd/0123abcd.json'")


def fake_logs(monkeypatch, answers):
    """`dvc queue logs -f` answers these (exit status, stderr) in turn, then the last one for ever; the calls."""
    calls, answers, last = [], iter(answers), [None]

    def run(args, **kwargs):
        calls.append(args)
        last[0] = next(answers, last[0])
        return subprocess.CompletedProcess(args, last[0][0], None, last[0][1])

    monkeypatch.setattr(queue.subprocess, "run", run)
    return calls


def test_follow_log_tries_again_while_the_worker_has_not_written_its_info_file(monkeypatch, clock, capsys):
    calls = fake_logs(monkeypatch, [(255, RACE), (255, RACE), (0, "")])
    queue.follow_log("exp")
    assert len(calls) == 3 and all(call[-3:] == ["logs", "-f", "exp"] for call in calls)
    assert capsys.readouterr().err == ""


def test_follow_log_says_in_one_line_when_the_log_stays_missing(monkeypatch, clock, capsys):
    calls = fake_logs(monkeypatch, [(255, RACE)])
    queue.follow_log("exp")
    assert len(calls) == queue.FOLLOW_SECONDS // queue.POLL_SECONDS + 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exp" in err[0] and "No such file or directory" in err[0]
    assert "`dvc queue logs exp`" in err[0]


def test_follow_log_does_not_repeat_other_failures(monkeypatch, clock, capsys):
    calls = fake_logs(monkeypatch, [(255, "ERROR: experiment 'exp' does not exist")])
    queue.follow_log("exp")
    assert len(calls) == 1
    assert "does not exist" in capsys.readouterr().err
