"""dvc.yaml declares what each stage runs: its deps are exactly the ferpipe code its script imports,
and no stage declares the speed-only `runtime:` params, so changing them reruns nothing."""
from __future__ import annotations

import re

import pytest
import yaml
from support.stage_imports import REPO, has_code, imported_files

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def covered_files(deps: list[str]) -> set:
    covered = set()
    for dep in (d for d in deps if d.startswith("ferpipe/")):
        path = REPO / dep
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        assert files, f"dvc.yaml dep {dep} holds no code"
        covered |= {f.relative_to(REPO) for f in files if f.name != "__init__.py" or has_code(f)}
    return covered


@pytest.mark.parametrize("name", sorted(STAGES))
def test_deps_are_exactly_the_code_the_stage_imports(name):
    stage = STAGES[name]
    script = re.search(r"\bstages/\S+\.py\b", stage["cmd"]).group(0)
    assert script in stage["deps"]
    imported, covered = imported_files(REPO / script), covered_files(stage["deps"])
    assert not sorted(map(str, imported - covered)), "imported but not a dep"
    assert not sorted(map(str, covered - imported)), "a dep the stage does not import"


def test_no_stage_declares_the_speed_only_params():
    speed_only = {"device", "workers", "batch_size"}
    assert set(PARAMS["runtime"]["faces"]) == speed_only and not speed_only & set(PARAMS["faces"])
    for name, stage in STAGES.items():
        declared = [str(p) for p in stage.get("params", [])]
        assert not [p for p in declared if p.split(".")[0] == "runtime"], name
    assert STAGES["faces"]["params"] == ["faces"]
