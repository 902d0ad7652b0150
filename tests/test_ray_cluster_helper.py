"""The Ray test cluster's helper stops and kills only the processes of its own cluster: never a process
without the cluster's id, even one with the same node work folder (another Ray on the machine)."""
from __future__ import annotations

import os
import subprocess
import sys

from support.ray_cluster import CLUSTER_ENV, CLUSTER_FILE, cluster_processes, kill_node, stop_cluster

from ferpipe.experiments.ray_tasks import WORKDIR_ENV

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(SLEEPER, env={**os.environ, **env})


def test_kill_node_and_stop_cluster_touch_only_the_cluster_s_own_processes(tmp_path):
    (tmp_path / CLUSTER_FILE).write_text("ours")
    node_a = start({CLUSTER_ENV: "ours", WORKDIR_ENV: str(tmp_path / "node_a")})
    node_b = start({CLUSTER_ENV: "ours", WORKDIR_ENV: str(tmp_path / "node_b")})
    stranger = start({CLUSTER_ENV: "theirs", WORKDIR_ENV: str(tmp_path / "node_a")})  # same folder, other id
    plain = start({})
    try:
        assert sorted(cluster_processes(tmp_path)) == sorted([node_a.pid, node_b.pid])
        assert kill_node(tmp_path, "node_a") == 1
        node_a.wait(timeout=30)
        assert node_b.poll() is None and stranger.poll() is None
        stop_cluster(tmp_path, grace_s=5)
        node_b.wait(timeout=30)
        assert stranger.poll() is None and plain.poll() is None
        assert cluster_processes(tmp_path) == []
    finally:
        for proc in (node_a, node_b, stranger, plain):
            proc.kill()
            proc.wait()


def test_without_the_cluster_id_file_nothing_is_found(tmp_path):
    proc = start({CLUSTER_ENV: "ours", WORKDIR_ENV: str(tmp_path / "node_a")})
    try:
        assert cluster_processes(tmp_path) == [] and kill_node(tmp_path, "node_a") == 0
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
