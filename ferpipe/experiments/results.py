"""What DVC recorded of each experiment: name, commit, params and metrics, from `dvc exp show --json`
(DVC 3's layout) for every commit that has sweep experiments, as DVC's `Experiments.ls` lists them (a
commit made after a sweep does not hide it). Nothing is re-run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ferpipe.core.errors import FerpipeError
from ferpipe.experiments.dvc_repo import read_dvc, run_dvc, unexpected
from ferpipe.experiments.sweeps import sweep_of

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
    """The commits with at least one sweep experiment, from DVC's `Experiments.ls` over every commit."""
    return baselines_with_sweeps(read_dvc("the experiments of each commit",
                                          lambda repo: repo.experiments.ls(all_commits=True)))


def baselines_with_sweeps(listed: Any) -> list[str]:
    """The commits of `Experiments.ls`'s answer ({commit: [(name, rev), ...]}) that have a sweep's experiment."""
    if not (isinstance(listed, dict) and all(isinstance(exps, list) and all(
            isinstance(exp, (list, tuple)) and len(exp) == 2 and isinstance(exp[0], str) for exp in exps)
            for exps in listed.values())):
        raise unexpected("experiment list (Experiments.ls)", listed)
    return [commit for commit, exps in listed.items() if any(sweep_of(name) for name, _ in exps)]


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


def sweep_experiments() -> ExpShow:
    """Every sweep experiment DVC has recorded, with the params of the commits they ran from."""
    return parse_exp_show(exp_show(sweep_baselines()))
