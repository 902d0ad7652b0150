"""What a Ray task does on its node: a clone of its own at the sweep's commit, DVC run there, the result
pushed back (DVC's recipe for experiments on other machines).

Every task works in a fresh clone, never in a shared workspace (DVC's lock would serialise those), and
reads nothing from the driver's disk: the commit comes from the git remote, data and run-cache from the
DVC default remote that commit configures. The clones of one node share one DVC cache, so data pulled
for one experiment is there for the next. An experiment is pushed at most once: a task, a retry of one
whose node died included, first looks for the experiment's ref on the git remote.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ferpipe.experiments.dvc_repo import error_line_of

WORKDIR_ENV = "FERPIPE_RAY_WORKDIR"  # a node's folder for its clones and its DVC cache (default: the temp dir)
SHARED_STAGES = ("fetch", "faces", "augment")  # the stages before training, run once per sweep: up to the last


@dataclass(frozen=True)
class Checkout:
    """Where a task gets the sweep from and whom its experiment commits name."""
    git_url: str
    commit: str
    author_name: str
    author_email: str


@dataclass
class TaskResult:
    name: str  # the experiment, or "shared stages of EXP, ..."
    status: str  # Success | Failed
    node: str = ""  # the Ray node id it ran on
    error: str = ""  # why it failed: the stage's `error:` line, else DVC's or git's
    log: str = ""
    pushed_before: bool = False  # an earlier attempt had pushed it already: not run again


def exp_ref(commit: str, name: str) -> str:
    """The git ref DVC 3 keeps experiment `name` of baseline `commit` under."""
    return f"refs/exps/{commit[:2]}/{commit[2:]}/{name}"


def pushed_experiments(git_url: str, commit: str) -> set[str]:
    """The experiments of `commit` the git remote holds."""
    prefix = exp_ref(commit, "")
    proc = subprocess.run(["git", "ls-remote", git_url, prefix + "*"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git ls-remote {git_url} failed: {proc.stderr.strip()}")
    refs = (line.split("\t")[-1] for line in proc.stdout.splitlines())
    return {ref[len(prefix):] for ref in refs if ref.startswith(prefix)}


class Clone:
    """A fresh clone of the sweep's commit in the node's work folder; `run` logs each command."""

    def __init__(self, checkout: Checkout, result: TaskResult, slug: str):
        self.checkout, self.result = checkout, result
        root = Path(os.environ.get(WORKDIR_ENV) or tempfile.gettempdir()) / "ferpipe-ray"
        self.cache = root / "dvc-cache"
        self.path = root / f"{slug}-{uuid.uuid4().hex[:8]}"
        bin_dir = str(Path(sys.executable).parent)  # the node's environment: dvc and the stages' `python`
        # PYTHONPATH: the stages import the clone's ferpipe, the code of the sweep's commit.
        self.env = dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
                        PYTHONPATH=str(self.path), GIT_TERMINAL_PROMPT="0")

    def run(self, *cmd: str) -> bool:
        start = time.monotonic()
        proc = run_command(list(cmd), cwd=self.path if self.path.is_dir() else self.path.parent, env=self.env)
        # the seconds each command took: where a task's time goes (benchmarks/ray_overhead.py reads them)
        self.result.log += f"$ {' '.join(cmd)}  [{time.monotonic() - start:.1f} s]\n{proc.stdout}"
        if proc.returncode != 0:
            self.result.status = "Failed"
            self.result.error = error_line_of(proc.stdout) or f"`{' '.join(cmd[:4])}` exited {proc.returncode}"
        return proc.returncode == 0

    def dvc(self, *args: str) -> bool:
        return self.run(sys.executable, "-m", "dvc", *args)

    def make(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        c = self.checkout
        return (self.run("git", "clone", "--quiet", "--no-checkout", c.git_url, str(self.path))
                and self.run("git", "checkout", "--quiet", "--detach", c.commit)
                and self.run("git", "config", "user.name", c.author_name)
                and self.run("git", "config", "user.email", c.author_email)
                and self.dvc("cache", "dir", "--local", str(self.cache)))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def run_command(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)


def set_params(params_file: Path, overrides: list[str]) -> None:
    """Apply `-S` overrides to a clone's params file with DVC's own code (what `dvc exp run -S` does)."""
    from dvc.utils.hydra import apply_overrides

    apply_overrides(params_file, overrides)


def shared_stages(checkout: Checkout, label: str, overrides: list[str], node: str = "") -> TaskResult:
    """fetch, faces and augment with `overrides`, their outputs and run-cache pushed to the DVC remote so
    that the experiments restore them instead of recomputing them. `--pull`: a run-cache an earlier
    sweep pushed for the same parameters restores them here too."""
    result = TaskResult(name=f"shared stages of {label}", status="Success", node=node)
    clone = Clone(checkout, result, slug=label.split(",")[0] + "-shared")
    if clone.make():
        set_params(clone.path / "params.yaml", overrides)
        # their outputs and run-cache to the DVC remote (`dvc push --run-cache` would leave the run-cache's
        # uncached outputs behind, and no other clone could restore the stages from it)
        if clone.dvc("repro", "--pull", SHARED_STAGES[-1]) and clone.run(
                sys.executable, "-m", "ferpipe.commands.run_cache_push", *SHARED_STAGES):
            clone.remove()
    return result


def experiment(checkout: Checkout, name: str, overrides: list[str], node: str = "",
               shared: TaskResult | None = None, until: str | None = None) -> TaskResult:
    """`dvc exp run --pull --allow-missing -n NAME -S ... [UNTIL]` in a fresh clone (UNTIL: the stage it stops
    after), then `dvc exp push`; nothing when the git remote has the experiment already (an earlier attempt
    pushed it) or its shared stages failed."""
    result = TaskResult(name=name, status="Success", node=node)
    if shared is not None and shared.status != "Success":
        result.status, result.error = "Failed", f"its shared stages failed: {shared.error}"
        return result
    if name in pushed_experiments(checkout.git_url, checkout.commit):
        result.pushed_before, result.log = True, f"{name}: already on {checkout.git_url}, not run again\n"
        return result
    clone = Clone(checkout, result, slug=name)
    sets = [arg for text in overrides for arg in ("-S", text)] + ([until] if until else [])
    if (clone.make() and clone.dvc("exp", "run", "--pull", "--allow-missing", "-n", name, *sets)
            and clone.dvc("exp", "push", "origin", name)):
        clone.remove()
    return result
