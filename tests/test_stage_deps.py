"""dvc.yaml declares what each stage runs: its deps are exactly the ferpipe code its script imports, as
`python tests/support/stage_imports.py` writes them; its cmd holds the stage's paths, which the script does not
write again; and no stage declares the speed-only `runtime:` params, so changing them reruns nothing."""
from __future__ import annotations

import ast
import re

import pytest
import yaml
from support.stage_imports import DVC_YAML, REPO, has_code, imported_files, written_deps

from ferpipe.core.cli import stage_argv, stage_parser

STAGES = yaml.safe_load(DVC_YAML.read_text())["stages"]
FIX = "run `python tests/support/stage_imports.py` to write the deps again"
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
    assert not sorted(map(str, imported - covered)), f"imported but not a dep: {FIX}"
    assert not sorted(map(str, covered - imported)), f"a dep the stage does not import: {FIX}"


def test_the_code_deps_are_as_stage_imports_writes_them():
    """One writer of the code deps: the smallest set of folders and files, one line per ferpipe part."""
    text = DVC_YAML.read_text()
    assert written_deps(text) == text, FIX


@pytest.mark.parametrize("name", sorted(STAGES))
def test_the_script_takes_its_paths_from_its_cmd(name):
    """Its options default to what its cmd in dvc.yaml gives them (`stage_parser`), none to a path of its own."""
    script = REPO / re.search(r"\bstages/\S+\.py\b", STAGES[name]["cmd"]).group(0)
    tree = ast.parse(script.read_text())
    assert "stage_parser(__doc__.splitlines()[0], __file__)" in script.read_text()
    own = [ast.unparse(call) for call in ast.walk(tree) if isinstance(call, ast.Call)
           and getattr(call.func, "attr", None) == "add_argument"
           and any(k.arg == "default" and not (isinstance(k.value, ast.Constant) and k.value.value is None) for k in call.keywords)]
    assert not own, f"{script.name}: a default of its own, dvc.yaml's cmd is the place for it"


def test_an_option_defaults_to_its_value_in_the_cmd():
    parser = stage_parser("embed", str(REPO / "stages" / "embed.py"))
    parser.add_argument("--augmented-train")
    argv = stage_argv(DVC_YAML, "embed")
    assert parser.parse_args([]).augmented_train == argv[argv.index("--augmented-train") + 1] != "x"
    assert parser.parse_args([]).params == "params.yaml"
    assert parser.parse_args(["--augmented-train", "x"]).augmented_train == "x"


def test_no_stage_declares_the_speed_only_params():
    speed_only = {"device", "workers", "batch_size"}
    assert set(PARAMS["runtime"]["faces"]) == speed_only and not speed_only & set(PARAMS["faces"])
    for name, stage in STAGES.items():
        declared = [str(p) for p in stage.get("params", [])]
        assert not [p for p in declared if p.split(".")[0] == "runtime"], name
    assert STAGES["faces"]["params"] == ["faces"]


def test_the_registry_checks_the_folder_the_train_stage_depends_on():
    """check_params guards the pretrained-model folder before DVC hashes it; it must be the one train reads."""
    from ferpipe.registry import PRETRAINED_DIR

    argv = stage_argv(DVC_YAML, "train")
    folder = argv[argv.index("--pretrained") + 1]
    assert str(PRETRAINED_DIR) == folder and folder in STAGES["train"]["deps"]
