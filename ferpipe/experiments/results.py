"""What DVC recorded of each experiment: name, commit, params and metrics, from `dvc exp show --json`
(DVC 3's layout) for every commit that has sweep experiments, as DVC's `Experiments.ls` lists them (a
commit made after a sweep does not hide it). Nothing is re-run.

Only the metrics an experiment computed are kept: those of a stage it did not run (`sweep --until`) are
its starting commit's, and are named in `not_computed` instead (ferpipe.experiments.computed, on the
experiment's dvc.lock).
"""
from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Callable

from ferpipe.core.errors import FerpipeError
from ferpipe.core.params import parse_yaml
from ferpipe.experiments.computed import uncomputed_metrics
from ferpipe.experiments.dvc_repo import git, read_dvc, run_dvc, unexpected
from ferpipe.experiments.sweeps import sweep_of

PARAMS_FILE = "params.yaml"
SHOW_TRIES = 5
SHOW_RETRY_SECONDS = 5
TEMPORARY_COPY_GONE = re.compile(r"\.dvc/tmp/exps/\S+ does not exist")


@dataclass(frozen=True)
class Experiment:
    name: str
    rev: str
    baseline: str  # the commit it was run from
    timestamp: str
    state: str  # done | failed | pending (queued or running)
    params: dict[str, Any]  # params.yaml as the experiment ran it
    metrics: dict[str, dict[str, Any]]  # metrics file stem ("train", "softmax", ...) -> its contents
    not_computed: tuple[str, ...] = ()  # stems of metrics files in its commit that it did not compute

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
    args = ("exp", "show", "--json", *(arg for commit in baselines for arg in ("--rev", commit)))
    for attempt in range(SHOW_TRIES):
        try:
            text = run_dvc(*args)
            break
        except FerpipeError as exc:
            # An experiment that ends while DVC reads the queue's temporary copies removes its own copy under
            # .dvc/tmp/exps/ from under the reading: read again, the experiment is then a finished one.
            if attempt == SHOW_TRIES - 1 or not TEMPORARY_COPY_GONE.search(str(exc)):
                raise
            time.sleep(SHOW_RETRY_SECONDS)
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


Locks = Callable[[str], "dict[str, Any] | None"]


def lock_at(rev: str) -> dict[str, Any] | None:
    """dvc.lock of commit `rev` (None where it has none)."""
    shown = git("show", f"{rev}:dvc.lock")
    return parse_yaml(shown.stdout, f"dvc.lock of {rev[:7]}") if shown.returncode == 0 else None


def _computed(metrics: dict[str, Any], rev: str, baseline: str, params: dict[str, Any], locks: Locks) -> tuple[set, set]:
    """(metrics paths the experiment computed, those it did not); without its dvc.lock, none is known computed."""
    lock = locks(rev)
    missing = set(metrics) if lock is None else uncomputed_metrics(lock, params, locks(baseline)) & set(metrics)
    return set(metrics) - missing, missing


def parse_exp_show(doc: list[dict[str, Any]], locks: Locks | None = None) -> ExpShow:
    """The experiments of `doc`; with `locks` (commit -> its dvc.lock), a finished experiment's metrics
    files that it did not compute are left out and named."""
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
            params = _file_data(data.get("params")).get(PARAMS_FILE, {})
            files = _file_data(data.get("metrics"))
            state = _state(entry, rev)
            missing: set[str] = set()
            if locks is not None and state == "done":
                kept, missing = _computed(files, rev.get("rev", ""), commit["rev"], params, locks)
                files = {path: files[path] for path in kept}
            experiments.append(Experiment(
                name=entry.get("name") or rev.get("name") or rev.get("rev", "")[:7], rev=rev.get("rev", ""),
                baseline=commit["rev"], timestamp=data.get("timestamp") or "", state=state, params=params,
                metrics={PurePosixPath(path).stem: values for path, values in files.items()},
                not_computed=tuple(sorted(PurePosixPath(path).stem for path in missing))))
    return ExpShow(experiments, baselines)


def sweep_experiments() -> ExpShow:
    """Every sweep experiment DVC has recorded, with the params of the commits they ran from; of each, only
    the metrics it computed."""
    return parse_exp_show(exp_show(sweep_baselines()), functools.lru_cache(maxsize=None)(lock_at))
