"""`sweep NAME --ray [ADDRESS]`: each experiment of a sweep a Ray task, on whichever node has its resources.

Before anything is scheduled: both remotes are checked, the cluster is reached and must have a node with
the resources one experiment asks for, and the sweep's commit is pushed. Then one task per distinct setting
of the shared stages (fetch, faces, augment) runs them and pushes their outputs and run-cache, and each
experiment's task, scheduled once its shared stages are done, restores them (ray_tasks). A task whose node
dies is retried elsewhere (Ray's max_retries). At the end the experiments' refs are pulled here, so the
tables are written from `dvc exp show` exactly as after the queue.
"""
from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.params import read_yaml
from ferpipe.core.settings import value_at
from ferpipe.experiments import ray_tasks
from ferpipe.experiments.overrides import apply_overrides
from ferpipe.experiments.remotes import checked_checkout, pull_experiments, push_commit
from ferpipe.experiments.ray_tasks import SHARED_STAGES, Checkout, TaskResult

MAX_RETRIES = 3  # per task, on a node's or worker's death; a failed stage is an answer, not retried
CONNECT_SECONDS = 5
LOCAL = ""  # --ray without an address: a new Ray instance on this machine, one experiment per GPU (or CPU)


@dataclass(frozen=True)
class RayOptions:
    address: str  # LOCAL, "auto", "HOST:PORT" or "ray://HOST:PORT": what ray.init takes
    gpus: float | None  # per experiment; None: 1 where the cluster has GPUs, else 0
    cpus: float
    git_remote: str
    until: str | None = None  # run each experiment up to this stage of dvc.yaml only; None: the whole pipeline


def check_reachable(address: str) -> None:
    """A closed port is one error in seconds; ray.init itself waits minutes for a GCS that never answers."""
    if address in (LOCAL, "auto"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    require(bool(sep and host) and port.isdigit(), f"--ray {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise FerpipeError(f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
                           "`ray start --head` (docs/cluster.md) or check the address") from exc


def connect(address: str) -> Any:
    """ray, connected; the tasks run this process's ferpipe (sent along as a py_module), the stages the commit's."""
    check_reachable(address)
    try:
        import ray
    except ImportError as exc:
        raise FerpipeError("--ray needs Ray in this environment: `make setup` (requirements.txt pins it)") from exc
    import ferpipe

    local = {"include_dashboard": False} if address == LOCAL else {}
    try:
        ray.init(address=address or "local", runtime_env={"py_modules": [str(Path(ferpipe.__file__).parent)]},
                 logging_level=logging.WARNING, log_to_driver=False, **local)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise FerpipeError(f"--ray {address or '(this machine)'}: cannot connect: "
                           f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from exc
    return ray


def task_resources(options: RayOptions, nodes: list[dict[str, float]], cluster: dict[str, float]) -> dict[str, float]:
    """Ray's num_cpus / num_gpus for each task; one error unless some node (its total resources) fits one."""
    gpus = options.gpus if options.gpus is not None else (1.0 if cluster.get("GPU", 0) >= 1 else 0.0)
    require(gpus >= 0 and options.cpus > 0, "--gpus-per-experiment must be >= 0 and --cpus-per-experiment > 0")
    ask = {"CPU": options.cpus, **({"GPU": gpus} if gpus else {})}
    have = "; ".join(", ".join(f"{k} {node.get(k, 0):g}" for k in ("CPU", "GPU")) for node in nodes) or "no node"
    require(any(all(node.get(k, 0) >= v for k, v in ask.items()) for node in nodes),
            f"no node of the Ray cluster has the {' and '.join(f'{v:g} {k}' for k, v in ask.items())} one "
            f"experiment asks for (its nodes: {have}): change --gpus-per-experiment / --cpus-per-experiment")
    return {"num_cpus": options.cpus, "num_gpus": gpus}


def shared_param_keys(dvc_file: str = "dvc.yaml") -> list[str]:
    """The params.yaml keys the shared stages read, from dvc.yaml."""
    stages = (read_yaml(dvc_file, f"{dvc_file} not found") or {}).get("stages", {})
    keys = []
    for stage in SHARED_STAGES:
        for entry in stages.get(stage, {}).get("params", []):
            keys += [entry] if isinstance(entry, str) else [k for listed in entry.values() for k in listed]
    return keys


def shared_groups(experiments: dict[str, list[str]], params_file: str = "params.yaml") -> list[list[str]]:
    """The experiments grouped by the values of the shared stages' parameters: one shared run per group."""
    keys = shared_param_keys()
    groups: dict[str, list[str]] = {}
    for name, overrides in experiments.items():
        params = apply_overrides(params_file, overrides)
        groups.setdefault(json.dumps({k: value_at(params, k) for k in keys}, sort_keys=True, default=str),
                          []).append(name)
    return list(groups.values())


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _shared_on_node(checkout: Checkout, label: str, overrides: list[str]) -> TaskResult:
    return ray_tasks.shared_stages(checkout, label, overrides, node=_node_id())


def _experiment_on_node(checkout: Checkout, name: str, overrides: list[str], shared: TaskResult,
                        until: str | None) -> TaskResult:
    return ray_tasks.experiment(checkout, name, overrides, node=_node_id(), shared=shared, until=until)


def _report(result: TaskResult) -> None:
    again = " (pushed by an earlier attempt)" if result.pushed_before else ""
    print(f"\n==== {result.name}: {result.status}{again} on node {result.node or '?'} ====\n{result.log}", flush=True)


def run_on_ray(experiments: dict[str, list[str]], commit: str, options: RayOptions) -> dict[str, TaskResult]:
    """Run each experiment (name -> its -S overrides) on the Ray cluster; their results, once all are done
    and the successful ones pulled into this repository."""
    checkout = checked_checkout(options.git_remote, commit)
    groups = shared_groups(experiments)
    ray = connect(options.address)
    try:
        alive = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        resources = task_resources(options, alive, ray.cluster_resources())
        push_commit(options.git_remote, commit)
        shared_task = ray.remote(_shared_on_node).options(max_retries=MAX_RETRIES, **resources)
        experiment_task = ray.remote(_experiment_on_node).options(max_retries=MAX_RETRIES, **resources)
        pending: dict[Any, str] = {}
        for group in groups:
            label = ", ".join(group)
            shared = shared_task.remote(checkout, label, experiments[group[0]])
            pending[shared] = f"shared stages of {label}"
            for name in group:
                pending[experiment_task.remote(checkout, name, experiments[name], shared, options.until)] = name
                print(f"scheduled {name}: -S " + " -S ".join(experiments[name]), flush=True)
        results: dict[str, TaskResult] = {}
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            name = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as exc:  # its node died MAX_RETRIES times, or its shared stages' did
                result = TaskResult(name=name, status="Failed", error=str(exc).strip().splitlines()[0])
            _report(result)
            if name in experiments:
                results[name] = result
        pull_experiments(options.git_remote, [n for n, r in results.items() if r.status == "Success"])
    finally:
        ray.shutdown()
    return results
