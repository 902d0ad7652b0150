"""Per-experiment overhead of `sweep NAME --ray` (clones, pulls, pushes, scheduling) against DVC's queue on
the same tiny sweep, in one run (target: under 15 s an experiment).

In one copy of the project (tests/support/ray_cluster.py: sweep tiny4, 4 LeNet experiments on 7 x 10 demo
faces, a bare git remote, a folder as DVC remote), it runs the sweep through DVC's queue with 2 workers,
then on a Ray cluster of two one-CPU nodes on this machine (2 at once too), and prints: the wall time of
each, their difference per experiment, and where the Ray path's own time went, from the seconds each
command took in the tasks' logs and from when the driver printed each line.

Usage: nice -n 10 python benchmarks/ray_overhead.py [--keep DIR]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The tests' shared helpers (tests/support/) are no part of the installed package: reached from this checkout.
sys.path.insert(0, str(REPO / "tests"))

from support.project_copy import user_env  # noqa: E402
from support.ray_cluster import sweep_project, two_node_cluster  # noqa: E402

_COMMAND = re.compile(r"^\$ (?P<cmd>.*)  \[(?P<seconds>[0-9.]+) s\]$")
SETUP = ("git clone", "git checkout", "git config", "dvc cache dir")  # a task's own clone


def timed_sweep(driver: Path, *args: str) -> tuple[float, list[tuple[float, str]]]:
    """Run the sweep; its wall time and each line it printed with the seconds since the start."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ferpipe", "sweep", "tiny4", *args], cwd=driver,
                            env=user_env(driver), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    if proc.wait() != 0:
        sys.exit("\n".join(line for _, line in lines[-40:]))
    return time.monotonic() - start, lines


def task_seconds(lines: list[tuple[float, str]]) -> dict[str, dict[str, float]]:
    """Task -> {setup, run, push}: the seconds of its commands, from its log."""
    tasks: dict[str, dict[str, float]] = {}
    current = None
    for _, line in lines:
        if line.startswith("==== "):
            current = tasks.setdefault(line.strip("= ").split(":")[0], {"setup": 0.0, "run": 0.0, "push": 0.0})
        elif current is not None and (match := _COMMAND.match(line)):
            cmd, seconds = match["cmd"], float(match["seconds"])
            kind = ("setup" if any(s in cmd for s in SETUP) else
                    "push" if " push " in f"{cmd} " or "run_cache_push" in cmd else "run")
            current[kind] += seconds
    return tasks


def started(lines: list[tuple[float, str]], prefix: str) -> float:
    return next(t for t, line in lines if line.startswith(prefix))


def tail(lines: list[tuple[float, str]]) -> float:
    """Seconds from the last line before the summary (`tiny4 on ...`, printed once the tables are written)
    to the summary."""
    i = next(i for i, (_, line) in enumerate(lines) if line.startswith("tiny4 on "))
    return lines[i][0] - lines[i - 1][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        driver = sweep_project(root)
        queue_wall, queue_lines = timed_sweep(driver, "-j", "2")
        # the tables it rewrote are an input of the next sweep, which refuses uncommitted inputs
        subprocess.run(["git", "commit", "-qam", "the queue's tables"], cwd=driver, env=user_env(driver), check=True)
        with two_node_cluster(root / "nodes") as address:
            ray_wall, lines = timed_sweep(driver, "--ray", address)
    tasks = task_seconds(lines)
    experiments = {name: t for name, t in tasks.items() if not name.startswith("shared")}
    shared = [t for name, t in tasks.items() if name.startswith("shared")]
    n = len(experiments)
    per_task = sum(t["setup"] + t["push"] for t in experiments.values()) / n
    shared_once = sum(t["setup"] + t["push"] for t in shared)
    # the driver's own part beyond the queue's: more checks and the commit's push before the first task,
    # `dvc exp pull` after the last
    driver_once = (started(lines, "scheduled ") - started(queue_lines, "queued ")) + (tail(lines) - tail(queue_lines))
    print(f"sweep tiny4, {n} experiments, 2 at a time on each path; load average before: {load}, after: "
          f"{Path('/proc/loadavg').read_text().split()[0]}")
    print(f"DVC queue (-j 2): {queue_wall:.1f} s wall, {queue_wall / n:.1f} s an experiment")
    print(f"Ray (two 1-CPU nodes): {ray_wall:.1f} s wall, {ray_wall / n:.1f} s an experiment; "
          f"difference {(ray_wall - queue_wall) / n:+.1f} s an experiment")
    print(f"Ray overhead an experiment: {per_task + (shared_once + driver_once) / n:.1f} s = its task's clone and "
          f"push {per_task:.1f} s + the shared-stages task's clone and push {shared_once:.1f} s / {n} + the driver's "
          f"checks, commit push and exp pull beyond the queue's {driver_once:.1f} s / {n}")
    print("per task (seconds: clone and set-up / dvc run / push): " + "; ".join(
        f"{name}: {t['setup']:.1f} / {t['run']:.1f} / {t['push']:.1f}" for name, t in tasks.items()))


if __name__ == "__main__":
    main()
