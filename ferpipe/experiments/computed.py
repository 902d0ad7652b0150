"""Which metrics files an experiment computed, from its commit's dvc.lock, so that a table never shows a
figure its experiment did not compute.

An experiment's commit holds every git-tracked metrics file, also those of stages it never ran: run with
`--until STAGE`, the stages after STAGE keep the files of the commit it started from. A stage's files are
its own only where the stage is current in that commit, as `dvc status` would judge it: the parameters
its dvc.lock entry records are the experiment's, and every dependency that another stage writes is that
stage's current output (the same hash; for a file inside a folder output, which dvc.lock hashes as a
whole, the producer's folder unchanged since the baseline, or this stage's entry changed since: it ran
after its producer). A stage that
depends on a stage that is not current is not current either.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

PARAMS_FILE = "params.yaml"


def _value_at(params: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(params, dict) or part not in params:
            return _MISSING
        params = params[part]
    return params


_MISSING = object()


def _entries(stage: dict[str, Any], kind: str) -> dict[str, str | None]:
    """path -> recorded hash of a stage's `deps` or `outs` in dvc.lock."""
    entries = stage.get(kind) or []
    return {e["path"]: e.get("md5") or e.get("hash") for e in entries if isinstance(e, dict) and "path" in e}


def _producer(path: str, outs: dict[str, tuple[str, str | None]]) -> tuple[str, str, str | None] | None:
    """(stage, out path, hash) of the output that `path` is or lies in."""
    pure = PurePosixPath(path)
    for out, (stage, digest) in outs.items():
        if pure == PurePosixPath(out) or PurePosixPath(out) in pure.parents:
            return stage, out, digest
    return None


def stale_stages(lock: dict[str, Any], params: dict[str, Any], baseline_lock: dict[str, Any] | None) -> set[str]:
    """The stages of `lock` (an experiment's dvc.lock) that are not current for its `params` (see the module
    docstring); `baseline_lock` is dvc.lock of the commit it ran from (None: unknown, so a dependency inside a
    folder output whose producer changed counts as stale)."""
    stages = lock.get("stages") or {}
    base_stages = (baseline_lock or {}).get("stages") or {}
    outs = {path: (name, digest) for name, stage in stages.items() for path, digest in _entries(stage, "outs").items()}
    stale = set()
    for name, stage in stages.items():
        recorded = ((stage.get("params") or {}).get(PARAMS_FILE)) or {}
        if any(_value_at(params, key) != value for key, value in recorded.items()):
            stale.add(name)
    changed = True
    while changed:  # until no stage turns stale through its dependencies
        changed = False
        for name, stage in stages.items():
            if name in stale:
                continue
            for dep, digest in _entries(stage, "deps").items():
                found = _producer(dep, outs)
                if found is None or found[0] == name:
                    continue
                producer, out, out_digest = found
                if dep == out:
                    current = digest == out_digest
                else:  # inside a folder: its files' hashes are not in dvc.lock, only the folder's
                    base_out = _entries(base_stages.get(producer) or {}, "outs").get(out)
                    current = out_digest == base_out or stage != base_stages.get(name)  # unchanged, or rerun since
                if producer in stale or not current:
                    stale.add(name)
                    changed = True
                    break
    return stale


def uncomputed_metrics(lock: dict[str, Any], params: dict[str, Any], baseline_lock: dict[str, Any] | None) -> set[str]:
    """The paths of the outputs (metrics files among them) that stages not current in `lock` recorded."""
    stages = lock.get("stages") or {}
    return {path for name in stale_stages(lock, params, baseline_lock) for path in _entries(stages[name], "outs")}
