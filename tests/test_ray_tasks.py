"""The --ray path without a cluster: what a task runs on its node (commands replaced), its idempotence, and
the checks before anything is scheduled (ferpipe.experiments.ray_tasks, ray_runner, remotes)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferpipe.core.errors import FerpipeError
from ferpipe.experiments import ray_runner, ray_tasks, remotes
from ferpipe.experiments.ray_runner import RayOptions, check_reachable, task_resources
from ferpipe.experiments.ray_tasks import Checkout

REPO = Path(__file__).resolve().parents[1]
COMMIT = "4f1a2b3c" * 5
CHECKOUT = Checkout(git_url="/remotes/origin.git", commit=COMMIT, author_name="A", author_email="a@x.invalid")
DVC = [sys.executable, "-m", "dvc"]


class Node:
    """Stands in for the node's shell: records each command, answers exit 0 (or `fail` for a command that
    starts with it) and a log line; the git remote holds `pushed`."""

    def __init__(self, monkeypatch, tmp_path, pushed=(), fail=None, output=""):
        self.commands, self.fail, self.output = [], fail, output
        monkeypatch.setenv(ray_tasks.WORKDIR_ENV, str(tmp_path))
        monkeypatch.setattr(ray_tasks, "run_command", self.run)
        monkeypatch.setattr(ray_tasks, "pushed_experiments", lambda url, commit: set(pushed))
        monkeypatch.setattr(ray_tasks, "set_params", lambda path, overrides: self.commands.append(["set", *overrides]))

    def run(self, cmd, cwd, env):
        self.commands.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            Path(cmd[-1]).mkdir(parents=True)
        failed = self.fail is not None and cmd[:len(self.fail)] == self.fail
        return subprocess.CompletedProcess(cmd, 1 if failed else 0, stdout=self.output)


def test_an_experiment_runs_in_a_fresh_clone_and_is_pushed(monkeypatch, tmp_path):
    node = Node(monkeypatch, tmp_path)
    result = ray_tasks.experiment(CHECKOUT, "tiny-1", ["lr=0.1", "arch=lenet"], node="n1")
    assert (result.status, result.node, result.pushed_before) == ("Success", "n1", False)
    clone = node.commands[0][-1]
    assert node.commands == [
        ["git", "clone", "--quiet", "--no-checkout", "/remotes/origin.git", clone],
        ["git", "checkout", "--quiet", "--detach", COMMIT],
        ["git", "config", "user.name", "A"], ["git", "config", "user.email", "a@x.invalid"],
        [*DVC, "cache", "dir", "--local", str(tmp_path / "ferpipe-ray" / "dvc-cache")],
        [*DVC, "exp", "run", "--pull", "--allow-missing", "-n", "tiny-1", "-S", "lr=0.1", "-S", "arch=lenet"],
        [*DVC, "exp", "push", "origin", "tiny-1"]]
    assert Path(clone).parent == tmp_path / "ferpipe-ray" and not Path(clone).exists()  # removed once pushed


def test_an_experiment_with_until_runs_up_to_that_stage(monkeypatch, tmp_path):
    node = Node(monkeypatch, tmp_path)
    ray_tasks.experiment(CHECKOUT, "tiny-1", ["lr=0.1"], until="compare")
    assert [*DVC, "exp", "run", "--pull", "--allow-missing", "-n", "tiny-1", "-S", "lr=0.1", "compare"] in node.commands


def test_an_experiment_the_remote_holds_already_is_neither_run_nor_pushed_again(monkeypatch, tmp_path):
    node = Node(monkeypatch, tmp_path, pushed={"tiny-1"})
    result = ray_tasks.experiment(CHECKOUT, "tiny-1", ["lr=0.1"])
    assert (result.status, result.pushed_before, node.commands) == ("Success", True, [])


def test_a_failed_stage_is_the_result_s_error_line_and_nothing_is_pushed(monkeypatch, tmp_path):
    node = Node(monkeypatch, tmp_path, fail=[*DVC, "exp", "run"],
                output="Running stage 'train':\nerror: params.yaml: lr must be a number > 0, got -1\nERROR: failed\n")
    result = ray_tasks.experiment(CHECKOUT, "tiny-1", ["lr=-1"])
    assert result.status == "Failed" and result.error == "error: params.yaml: lr must be a number > 0, got -1"
    assert node.commands[-1][:5] == [*DVC, "exp", "run"]
    assert Path(node.commands[0][-1]).is_dir()  # kept on failure, to look at


def test_an_experiment_whose_shared_stages_failed_does_not_run(monkeypatch, tmp_path):
    node = Node(monkeypatch, tmp_path)
    shared = ray_tasks.TaskResult(name="shared stages of tiny-1", status="Failed", error="error: no faces")
    result = ray_tasks.experiment(CHECKOUT, "tiny-1", ["lr=0.1"], shared=shared)
    assert (result.status, result.error, node.commands) == ("Failed", "its shared stages failed: error: no faces", [])


def test_the_shared_stages_run_once_with_the_sweep_s_params_and_push_their_run_cache(monkeypatch, tmp_path):
    node = Node(monkeypatch, tmp_path)
    result = ray_tasks.shared_stages(CHECKOUT, "tiny-1, tiny-2", ["fetch.demo.per_class=10", "lr=0.1"])
    assert result.status == "Success"
    assert node.commands[5:] == [["set", "fetch.demo.per_class=10", "lr=0.1"],
                                 [*DVC, "repro", "--pull", "augment"],
                                 [sys.executable, "-m", "ferpipe.commands.run_cache_push", "fetch", "faces",
                                  "augment"]]


def test_pushed_experiments_are_read_from_the_remote_s_refs_of_the_commit(tmp_path):
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    blob = subprocess.run(["git", "--git-dir", str(remote), "hash-object", "-w", "--stdin"], input="x",
                          capture_output=True, text=True, check=True).stdout.strip()
    for ref in (ray_tasks.exp_ref(COMMIT, "tiny-1"), ray_tasks.exp_ref("9" * 40, "other-1")):
        subprocess.run(["git", "--git-dir", str(remote), "update-ref", ref, blob], check=True)
    assert ray_tasks.pushed_experiments(str(remote), COMMIT) == {"tiny-1"}


NODES = [{"CPU": 8.0, "node_a": 1.0}, {"CPU": 4.0, "GPU": 2.0}]


def options(gpus=None, cpus=1.0) -> RayOptions:
    return RayOptions(address="auto", gpus=gpus, cpus=cpus, git_remote="origin")


def test_each_experiment_asks_for_one_gpu_where_the_cluster_has_gpus_else_for_cpus():
    assert task_resources(options(), NODES, {"CPU": 12.0, "GPU": 2.0}) == {"num_cpus": 1.0, "num_gpus": 1.0}
    assert task_resources(options(cpus=2), NODES[:1], {"CPU": 8.0}) == {"num_cpus": 2.0, "num_gpus": 0.0}
    assert task_resources(options(gpus=0.5), NODES, {"GPU": 2.0})["num_gpus"] == 0.5


@pytest.mark.parametrize("ask, message", [
    (options(gpus=1), "no node of the Ray cluster has the 1 CPU and 1 GPU one experiment asks for "
                      r"\(its nodes: CPU 8, GPU 0\)"),
    (options(cpus=16), "no node of the Ray cluster has the 16 CPU"),
])
def test_a_cluster_without_a_node_that_fits_one_experiment_is_one_error(ask, message):
    with pytest.raises(FerpipeError, match=message):
        task_resources(ask, NODES[:1], {"CPU": 8.0})


def test_an_address_nobody_answers_is_one_error_in_seconds():
    with pytest.raises(FerpipeError, match="--ray 127.0.0.1:9: no Ray cluster answers there"):
        check_reachable("127.0.0.1:9")
    with pytest.raises(FerpipeError, match="expected HOST:PORT"):
        check_reachable("ray://nowhere")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_the_remotes_are_checked_before_anything_is_pushed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], check=True)
    with pytest.raises(FerpipeError, match="--git-remote origin: no such git remote"):
        remotes.git_remote_url("origin")
    git(tmp_path, "remote", "add", "origin", "../origin.git")
    assert remotes.git_remote_url("origin") == str(tmp_path.parent / "origin.git")
    with pytest.raises(FerpipeError, match="no DVC default remote in .dvc/config"):
        remotes.check_dvc_remote()
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "-d", "store", "../store"], check=True)
    with pytest.raises(FerpipeError, match="DVC remote store is the relative path '../../store'"):
        remotes.check_dvc_remote()
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "-f", "-d", "store", "s3://bucket/ferpipe"],
                   check=True)
    assert remotes.check_dvc_remote() == "store"


def test_a_commit_the_remote_refuses_is_one_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit", "-q", "--allow-empty", "-m", "a")
    git(tmp_path, "remote", "add", "origin", str(tmp_path / "missing.git"))
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    with pytest.raises(FerpipeError, match=f"cannot push commit {head[:8]} \\(main\\) to git remote origin"):
        remotes.push_commit("origin", head)


def test_the_shared_stages_are_grouped_by_their_own_params_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  fetch: {cmd: x, params: [fetch]}\n  faces: {cmd: x, params: "
                                       "[faces.size]}\n  augment: {cmd: x, params: [augment]}\n")
    (tmp_path / "params.yaml").write_text("fetch: {fold: 0}\nfaces: {size: 48}\naugment: {factor: 2}\nlr: 0.1\n")
    groups = ray_runner.shared_groups({"a": ["lr=0.1"], "b": ["lr=0.01"], "c": ["fetch.fold=1"],
                                       "d": ["fetch.fold=1", "lr=0.5"]})
    assert groups == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("args, message", [
    (["--gpus-per-experiment", "1"], "--gpus-per-experiment, --cpus-per-experiment and --git-remote go with --ray"),
    (["--ray", "-j", "2"], "--jobs is for DVC's queue; with --ray the cluster's free resources decide"),
])
def test_options_that_do_not_go_together_are_one_error_line(args, message):
    proc = subprocess.run([sys.executable, "-m", "ferpipe", "sweep", "table4", *args], cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 1 and proc.stderr.startswith(f"error: {message}") and proc.stderr.count("\n") == 1
