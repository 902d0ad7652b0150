"""End to end: the committed pipeline reproduces from a fresh copy on the demo dataset.

Copies the repository's files (tracked and not ignored: what a fresh clone has, plus local edits),
runs `dvc repro` with the default params, and checks that the committed dvc.lock matches the run,
that a second `dvc repro` does nothing, and that `dvc exp run -S ...` works as users type it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path, venv_on_path: bool = True) -> str:
    """Run cmd in cwd; with venv_on_path, as a user whose environment is activated."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin]
    # PYTHONPATH: the stages must import the copy's ferpipe, not the editable install's.
    env = dict(os.environ, PATH=os.pathsep.join(([venv_bin] if venv_on_path else []) + path), PYTHONPATH=str(cwd),
               GIT_AUTHOR_NAME="ferpipe test", GIT_AUTHOR_EMAIL="test@ferpipe.invalid",
               GIT_COMMITTER_NAME="ferpipe test", GIT_COMMITTER_EMAIL="test@ferpipe.invalid")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("clone") / "ferpipe"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "fresh copy"], dest)
    venv = Path(sys.executable).parent.parent
    # The README's command; -o: the test's environment is installed already, never reinstall it here.
    run(["make", "repro", f"VENV={venv}", "-o", f"{venv}/.installed"], dest, venv_on_path=False)
    return dest


def lock_without_data(lock: dict) -> dict:
    """Each stage's command, params and code dependencies (with their md5).

    Data hashes are left out on purpose: float kernels (oneDNN, OpenCV) may round differently on
    another CPU, so the bytes of crops and models are only guaranteed equal on one machine.
    """
    kept = {}
    for name, stage in lock["stages"].items():
        code = [d for d in stage.get("deps", []) if not d["path"].startswith("data/")]
        kept[name] = {"cmd": stage["cmd"], "params": stage.get("params"), "code": code}
    return kept


def test_committed_lock_matches_a_fresh_repro(clone):
    committed = yaml.safe_load((REPO / "dvc.lock").read_text())
    fresh = yaml.safe_load((clone / "dvc.lock").read_text())
    assert lock_without_data(fresh) == lock_without_data(committed)
    assert set(fresh["stages"]) == set(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])


def test_a_second_repro_runs_nothing(clone):
    out = run(["dvc", "repro"], clone)
    assert "Running stage" not in out
    assert "is up to date" in run(["dvc", "status"], clone) or "up to date" in out


def test_metrics_come_from_the_run(clone):
    data = json.loads((clone / "metrics" / "data.json").read_text())
    assert data["dataset"] == "demo" and data["counts"]["train"]["total"] > 0


def test_exp_run_sets_a_top_level_paper_param(clone):
    # epochs=1 only keeps the test short; the lr plumbing is what is checked
    out = run(["dvc", "exp", "run", "-S", "lr=0.01", "-S", "epochs=1"], clone)
    assert "Running stage 'train'" in out and "Running stage 'fetch'" not in out
    assert json.loads((clone / "metrics" / "train.json").read_text())["lr"] == 0.01
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], clone))
    assert (diff["metrics/train.json"]["lr"]["old"], diff["metrics/train.json"]["lr"]["new"]) == (0.05, 0.01)
