"""The experiments `dvc exp show --json` lists: name, commit, params and metrics of each (DVC 3's layout).

Nothing is re-run: the sweep tables and the k-fold summary are built from this output only, for
every commit that has sweep experiments (a commit made after a sweep does not hide it).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ferpipe.core.errors import FerpipeError
from ferpipe.report.queue import run_dvc
from ferpipe.report.sweeps import sweep_of

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Experiment:
    name: str
    rev: str
    baseline: str  # the commit it was run from
    timestamp: str
    state: str  # done | failed | pending (queued or running)
    params: dict[str, Any]  # params.yaml as the experiment ran it
    metrics: dict[str, dict[str, Any]]  # metrics file stem ("train", "softmax", ...) -> its contents

    def metric(self, stem: str, key: str) -> Any:
        return self.metrics.get(stem, {}).get(key)


@dataclass(frozen=True)
class ExpShow:
    experiments: list[Experiment]
    baseline_params: dict[str, dict[str, Any]]  # commit -> its params.yaml


def sweep_baselines() -> list[str]:
    """The commits with at least one sweep experiment, as `dvc exp list --all-commits` names them
    (a `commit:` line, then one indented `rev [name]` line per experiment)."""
    baselines: list[str] = []
    commit = None
    for line in run_dvc("exp", "list", "--all-commits").splitlines():
        if line.strip() and not line[0].isspace() and line.rstrip().endswith(":"):
            commit = line.rstrip()[:-1]
        elif commit and (name := re.search(r"\[(.+)\]", line)) and sweep_of(name[1]) and commit not in baselines:
            baselines.append(commit)
    return baselines


def exp_show(baselines: list[str]) -> list[dict[str, Any]]:
    """DVC's own `dvc exp show --json` for the experiments of these commits (none: an empty list)."""
    if not baselines:
        return []
    text = run_dvc("exp", "show", "--json", *(arg for commit in baselines for arg in ("--rev", commit)))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FerpipeError(f"`dvc exp show --json` printed something that is not JSON ({exc})") from exc


def _file_data(files: dict[str, Any] | None) -> dict[str, Any]:
    return {path: (entry or {}).get("data") or {} for path, entry in (files or {}).items()}


def _state(entry: dict[str, Any], rev: dict[str, Any]) -> str:
    executor_state = ((entry.get("executor") or {}).get("state") or "success").lower()
    if rev.get("error") or executor_state == "failed":
        return "failed"
    return "done" if executor_state == "success" else "pending"


def parse_exp_show(doc: list[dict[str, Any]]) -> ExpShow:
    if not isinstance(doc, list):
        raise FerpipeError("`dvc exp show --json`: expected a list of commits")
    experiments, baselines = [], {}
    for commit in doc:
        if commit.get("rev") == "workspace":
            continue
        baselines[commit["rev"]] = _file_data((commit.get("data") or {}).get("params")).get(PARAMS_FILE, {})
        for entry in commit.get("experiments") or []:
            rev = (entry.get("revs") or [{}])[0]
            data = rev.get("data") or {}
            metrics = {PurePosixPath(path).stem: values for path, values in _file_data(data.get("metrics")).items()}
            experiments.append(Experiment(
                name=entry.get("name") or rev.get("name") or rev.get("rev", "")[:7], rev=rev.get("rev", ""),
                baseline=commit["rev"], timestamp=data.get("timestamp") or "", state=_state(entry, rev),
                params=_file_data(data.get("params")).get(PARAMS_FILE, {}), metrics=metrics))
    return ExpShow(experiments, baselines)
