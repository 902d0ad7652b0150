"""DVC's experiment state read as data (ferpipe.experiments.results, .queue): DVC's answers in their
recorded shapes, and a real DVC repository in a temporary folder: one experiment run and one queued; two
queued experiments run by two workers."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ferpipe.core.errors import FerpipeError
from ferpipe.experiments.queue import queue_statuses, start_queue
from ferpipe.experiments.results import baselines_with_sweeps, sweep_baselines, sweep_experiments
from support.project_copy import user_env

# What DVC 3.67's Experiments.ls(all_commits=True) answers: commit -> [(experiment name, its commit)].
LISTED = {
    "a" * 40: [("table4-20261130T010700-1", "b" * 40), ("mossy-lamb", "c" * 40)],
    "d" * 40: [("mossy-lamb", "e" * 40)],
    "f" * 40: [("kfold-20261129T090000-2", "0" * 40)],
}


def test_the_commits_with_a_sweeps_experiment_are_the_baselines():
    assert baselines_with_sweeps(LISTED) == ["a" * 40, "f" * 40]
    assert baselines_with_sweeps({}) == []


@pytest.mark.parametrize("listed", [["a" * 40], {"a" * 40: "table4-20261130T010700-1"}, {"a" * 40: [("x",)]}])
def test_an_experiment_list_of_another_shape_is_an_error(listed):
    with pytest.raises(FerpipeError, match="not in the shape ferpipe reads"):
        baselines_with_sweeps(listed)


def test_outside_a_dvc_repository_is_one_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FerpipeError, match="not a DVC repository"):
        queue_statuses()


WRITE_METRICS = """import json, yaml
json.dump({"accuracy": 1 - yaml.safe_load(open("params.yaml"))["lr"]}, open("train.json", "w"))
"""
DVC_YAML = f"""stages:
  train:
    cmd: {sys.executable} write_metrics.py
    deps: [write_metrics.py]
    params: [lr]
    metrics: [train.json: {{cache: false}}]
"""


def _run(cwd, *args):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture
def dvc_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    _run(tmp_path, "git", "init", "-q")
    _run(tmp_path, "git", "config", "user.name", "t")
    _run(tmp_path, "git", "config", "user.email", "t@t.invalid")
    _run(tmp_path, sys.executable, "-m", "dvc", "init", "-q")
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "write_metrics.py").write_text(WRITE_METRICS)
    _run(tmp_path, "git", "add", "-A")
    _run(tmp_path, "git", "commit", "-qm", "baseline")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_experiments_and_the_queue_are_read_from_a_real_dvc_repository(dvc_repo):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=dvc_repo, capture_output=True, text=True).stdout.strip()
    _run(dvc_repo, sys.executable, "-m", "dvc", "exp", "run", "-q", "-n", "table4-20260101T000000-1", "-S", "lr=0.25")
    _run(dvc_repo, sys.executable, "-m", "dvc", "exp", "run", "--queue", "-n", "table4-20260101T000000-2", "-S", "lr=0.5")
    assert sweep_baselines() == [head]
    show = sweep_experiments()
    assert show.baseline_params == {head: {"lr": 0.1}}
    by_name = {e.name: e for e in show.experiments}
    done, queued = by_name["table4-20260101T000000-1"], by_name["table4-20260101T000000-2"]
    assert (done.state, done.baseline, done.params, done.metric("train", "accuracy")) == ("done", head, {"lr": 0.25}, 0.75)
    assert queued.state == "pending"
    assert queue_statuses() == ({"table4-20260101T000000-2": "Queued"}, 0)  # queued, and no worker started


BLOCKING_METRICS = """import json, os, time, yaml
while not os.path.exists({go!r}):
    time.sleep(0.2)
json.dump({{"accuracy": 1 - yaml.safe_load(open("params.yaml"))["lr"]}}, open("train.json", "w"))
"""


def _until(condition, what, last, seconds=120):
    deadline = time.monotonic() + seconds
    while not (answer := condition()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}; last {last()}"
        time.sleep(0.5)
    return answer


@pytest.mark.slow
def test_two_queue_workers_are_counted_while_they_run_and_no_longer_after(dvc_repo, tmp_path, monkeypatch):
    """Two real workers, polled over and over while both run (where DVC's worker broadcast raced), started
    from a process whose PATH lacks the environment's `dvc` (as with .venv/bin/python -m ferpipe sweep)."""
    go = tmp_path / "go"
    (dvc_repo / "write_metrics.py").write_text(BLOCKING_METRICS.format(go=str(go)))
    _run(dvc_repo, "git", "commit", "-qam", "experiments wait for a file")
    names = [f"table4-20260101T000000-{i}" for i in (1, 2)]
    for i, name in enumerate(names):
        _run(dvc_repo, sys.executable, "-m", "dvc", "exp", "run", "--queue", "-n", name, "-S", f"lr=0.{i + 1}")
    monkeypatch.setenv("PATH", user_env(dvc_repo, venv_on_path=False)["PATH"])
    start_queue(2)
    try:
        both_running = _until(lambda: (answer := queue_statuses()) == ({n: "Running" for n in names}, 2) and answer,
                              "both experiments running on two workers", last=queue_statuses)
        assert all(queue_statuses()[1] == 2 for _ in range(20))
    finally:
        go.touch()
    assert both_running[1] == 2
    _until(lambda: queue_statuses() == ({n: "Success" for n in names}, 0), "both done and both workers gone",
           last=queue_statuses)


@pytest.mark.slow
def test_a_sweep_on_the_queue_runs_every_experiment_it_queued(dvc_repo, monkeypatch):
    """Three experiments on one real worker, through the sweep's own `run_queued`: each one runs, none is
    left queued (DVC's worker may stop between them: the sweep then starts another)."""
    from ferpipe.experiments.queue import run_queued

    monkeypatch.setenv("PATH", user_env(dvc_repo, venv_on_path=False)["PATH"])
    names = [f"table4-20260101T000000-{i}" for i in (1, 2, 3)]
    statuses = run_queued({name: [f"lr=0.{i + 1}"] for i, name in enumerate(names)}, jobs=1)
    assert statuses == {name: "Success" for name in names}
    assert queue_statuses()[0] == {name: "Success" for name in names}
    show = {e.name: e for e in sweep_experiments().experiments}
    assert [show[name].metric("train", "accuracy") for name in names] == pytest.approx([0.9, 0.8, 0.7])
