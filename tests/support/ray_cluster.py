"""A sweep on a Ray cluster, all on this machine, for the --ray tests and benchmark: the project with tiny
sweeps of 3 and 4 experiments (and `tiny`, the first of them alone), a bare git repository as its git remote
and a folder as its DVC remote; and a Ray cluster of a head that runs no task and two worker nodes, each with
one CPU, a custom resource naming it (node_a, node_b) and a work folder of its own (FERPIPE_RAY_WORKDIR), so
that either worker can be killed while the cluster lives on; always stopped afterwards, also when a test fails."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml

from ferpipe.experiments.ray_tasks import WORKDIR_ENV
from support.project_copy import RUN_OUTPUTS, TINY_SWEEP, copy_repository, run

RAY = str(Path(sys.executable).parent / "ray")
NODES = ("node_a", "node_b")
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # the tasks pass only small results: keep shared memory small
# Set, to a value drawn for each cluster, in the environment of the nodes `two_node_cluster` starts, which
# every process of a node inherits: what `cluster_processes` looks for (with the node's work folder, for one node).
CLUSTER_ENV = "FERPIPE_TEST_CLUSTER"
CLUSTER_FILE = "cluster-id"  # in the cluster's work folder: the value of CLUSTER_ENV


TINY3 = {**TINY_SWEEP, "vary": {"lr": [0.1, 0.05, 0.01]}}
TINY4 = {**TINY_SWEEP, "vary": {"lr": [0.1, 0.05, 0.02, 0.01]}}


def sweep_project(root: Path) -> Path:
    """root/driver: the project with sweeps tiny3, tiny4 and tiny, its git remote `origin` (root/origin.git) and its DVC
    default remote (root/dvc-store), committed."""
    driver = copy_repository(root / "driver", without=RUN_OUTPUTS)
    sweeps = yaml.safe_load((driver / "sweeps.yaml").read_text())
    sweeps["sweeps"]["tiny3"] = TINY3
    sweeps["sweeps"]["tiny4"] = TINY4
    sweeps["sweeps"]["tiny"] = TINY_SWEEP
    (driver / "sweeps.yaml").write_text(yaml.safe_dump(sweeps))
    run(["git", "init", "-q", "--bare", str(root / "origin.git")], root)
    run(["git", "remote", "add", "origin", str(root / "origin.git")], driver)
    run(["dvc", "remote", "add", "-d", "store", str(root / "dvc-store")], driver)
    run(["git", "add", "-A"], driver)
    run(["git", "commit", "-qm", "tiny3, tiny4 and tiny sweeps, remotes"], driver)
    return driver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_node(node: str, workdir: Path, head_port: int, head: bool, cluster_id: str) -> None:
    """The head (`node` "head": no CPU, so that it runs no task) or a worker node of one CPU named `node`."""
    where = ["--head", f"--port={head_port}", "--include-dashboard=false"] if head else [
        f"--address=127.0.0.1:{head_port}"]
    cpus, resources = (0, {}) if head else (1, {node: 1})
    # RAY_AUTH_MODE: a local `ray.init()` leaves a token in ~/.ray that a later head would require and a
    # worker node would not send; a cluster on loopback only needs none.
    # RAY_worker_niceness: Ray starts its task processes at nice 15, where the experiments starved beside
    # the other test workers (at 0): the sweep module's fixture took 852 s, 410 s at nice 0.
    env = dict(os.environ, **{WORKDIR_ENV: str(workdir / node), CLUSTER_ENV: cluster_id}, RAY_USAGE_STATS_ENABLED="0",
               RAY_AUTH_MODE="disabled", RAY_worker_niceness="0")
    proc = subprocess.run([RAY, "start", *where, f"--num-cpus={cpus}", "--num-gpus=0",
                           f"--object-store-memory={OBJECT_STORE_BYTES}", f"--resources={json.dumps(resources)}",
                           "--disable-usage-stats"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ray start for {node} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


@contextlib.contextmanager
def two_node_cluster(workdir: Path) -> Iterator[str]:
    """The head's address while both worker nodes run; every process of the cluster stopped after (not `ray
    stop --force`, which would also stop any other Ray on the machine, a user's included)."""
    port, cluster_id = free_port(), uuid.uuid4().hex
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / CLUSTER_FILE).write_text(cluster_id)
    try:
        start_node("head", workdir, port, head=True, cluster_id=cluster_id)
        for node in NODES:
            start_node(node, workdir, port, head=False, cluster_id=cluster_id)
        yield f"127.0.0.1:{port}"
    finally:
        stop_cluster(workdir)


def cluster_processes(workdir: Path, node: str | None = None) -> list[int]:
    """The processes of the cluster that `two_node_cluster` started in `workdir` (of `node` alone, if given).

    Only processes this module started, or their children, are found: a process must carry the cluster's own
    id (drawn when it started, kept in workdir), and for a node that node's work folder, in its environment,
    which processes inherit from the `ray start` that started their node. A Ray node of anyone else, even one
    with the same work folder, lacks the id; without the cluster's id file nothing is found."""
    id_file = workdir / CLUSTER_FILE
    if not id_file.is_file():
        return []
    marks = {f"{CLUSTER_ENV}={id_file.read_text()}".encode()}
    if node is not None:
        marks.add(f"{WORKDIR_ENV}={workdir / node}".encode())
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marks <= set((proc / "environ").read_bytes().split(b"\0")):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, a zombie, or not ours to read
            continue
    return found


def signal_all(pids: list[int], sig: int) -> int:
    sent = 0
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            sent += 1
    return sent


def kill_node(workdir: Path, node: str) -> int:
    """SIGKILL every process of `node` (its raylet, its workers and what they run), as when the machine
    dies; how many were killed."""
    return signal_all(cluster_processes(workdir, node), signal.SIGKILL)


def stop_cluster(workdir: Path, grace_s: float = 10.0) -> None:
    """SIGTERM every process of the cluster, then SIGKILL what is left after `grace_s`."""
    signal_all(cluster_processes(workdir), signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while cluster_processes(workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    signal_all(cluster_processes(workdir), signal.SIGKILL)


def nodes_by_id(address: str) -> dict[str, str]:
    """Ray node id -> the custom resource naming it, of every node the cluster has known (dead ones too)."""
    script = ("import json, ray; ray.init(address=%r, logging_level='error'); "
              "print(json.dumps({n['NodeID']: [r for r in n['Resources'] if r in %r] for n in ray.nodes()}))")
    out = subprocess.run([sys.executable, "-c", script % (address, NODES)], capture_output=True, text=True,
                         check=True).stdout
    return {node_id: names[0] for node_id, names in json.loads(out.splitlines()[-1]).items() if names}
