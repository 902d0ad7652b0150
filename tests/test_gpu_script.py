"""benchmarks/gpu_fer2013.py run --smoke: the GPU measurement's own code, CPU-sized, on a few hundred
real FER-2013 images, prints every row of its table and writes its log."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FER2013 = REPO.parent / "shared" / "datasets" / "fer2013"
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_fer2013  # noqa: E402


def test_preset_lines_are_dvc_overrides_of_existing_params():
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    overrides = gpu_fer2013.preset_overrides()
    assert overrides["dataset"] == "fer2013" and overrides["backend"] == "torch"
    for dotted in overrides:
        block = params
        for name in dotted.split(".")[:-1]:
            block = block[name]
        assert dotted.split(".")[-1] in block, f"{dotted} is not a key of params.yaml"


@pytest.mark.slow
@pytest.mark.skipif(not FER2013.is_dir(), reason=f"real FER-2013 not found at {FER2013}")
def test_smoke_run_prints_every_row_of_its_table(tmp_path):
    log = tmp_path / "results" / "smoke.txt"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_fer2013.py"), "run", "--smoke",
                           "--data", str(FER2013), "--work", str(tmp_path / "work"), "--log", str(log)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})  # 2 shared cores: 2 threads crawl
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout[done.stdout.rindex("\ndata "):]
    lines = table.strip().splitlines()
    assert [line[:28].strip() for line in lines] == list(gpu_fer2013.TABLE_ROWS)
    assert "train (keras)" in log.read_text() and log.read_text().rstrip().endswith(lines[-1])
    assert "210 images unpacked" in table  # 10 a class and split
