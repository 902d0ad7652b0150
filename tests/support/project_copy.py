"""A copy of the project in a fresh git repository, and commands run in it as a user would: for the end-to-end
tests (tests/test_pipeline.py, tests/test_ray_sweep.py) and benchmarks/ray_overhead.py."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from support import REPO

# Written by the run, so removed from the copy: a test reading them then reads what the run wrote.
RUN_OUTPUTS = {"metrics", "plots", "REPORT.md"}
# A LeNet experiment on 7 x 10 demo faces that takes seconds: the sweep machinery, not learning, is under test
# (one MTCNN worker: on so few images, starting a second one costs more than it saves). ray_cluster.py's sweeps
# vary its lr.
TINY_SWEEP = {"set": {"fetch.demo.per_class": 10, "runtime.faces.workers": 1, "arch": "lenet", "train.input_size": 32,
                      "epochs": 1, "train.steps_per_epoch": 3, "svm.C": [1], "generalize.demo.per_class": 12},
              "vary": {"lr": [0.1]}}


def user_env(cwd: Path, venv_on_path: bool = True) -> dict[str, str]:
    """The environment of a user working in the copy at cwd; with venv_on_path, their environment activated."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin]
    # PYTHONPATH: the stages must import the copy's ferpipe, not the editable install's.
    return dict(os.environ, PATH=os.pathsep.join(([venv_bin] if venv_on_path else []) + path), PYTHONPATH=str(cwd),
                GIT_AUTHOR_NAME="ferpipe test", GIT_AUTHOR_EMAIL="test@ferpipe.invalid",
                GIT_COMMITTER_NAME="ferpipe test", GIT_COMMITTER_EMAIL="test@ferpipe.invalid")


def run(cmd: list[str], cwd: Path, venv_on_path: bool = True) -> str:
    """Run cmd in cwd as that user; its stdout, or an AssertionError with its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=user_env(cwd, venv_on_path), capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def copy_repository(dest: Path, without: set[str] = frozenset()) -> Path:
    """The repository's files (tracked and not ignored) under dest, but for the top-level names in `without`,
    committed in a new git repository."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file() and name.split("/")[0] not in without:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "fresh copy"], dest)
    return dest


