"""Each folder of the package uses only the folders below it (imports inside functions included), so that
code two parts share lives low enough for both: the order of the method, from files to the report."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.stage_imports import REPO

PACKAGE = REPO / "ferpipe"
# Lowest first; a folder may import its own modules and those of the folders of lower lines only. The
# registry, a module, sits above the parts whose settings it maps; the commands, each the entry point of a
# part, on top of everything.
LAYERS = [
    {"core"},
    {"data"},
    {"faces", "augment", "nn"},
    {"features", "eval", "probabilities"},
    {"svm"},
    {"export"},
    {"apply"},
    {"experiments", "serve"},
    {"report"},
    {"registry"},
    {"commands"},
]
MODULES = {"registry"}  # places in LAYERS that are one module (ferpipe/registry.py), not a folder
LEVEL = {folder: level for level, folders in enumerate(LAYERS) for folder in folders}
TOP = len(LAYERS)  # ferpipe/__main__.py, which dispatches to the commands


def level_of(part: str) -> int:
    return LEVEL.get(part, TOP)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports by its absolute name (imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names.update([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
    return names


def imported_parts(path: Path) -> set[str]:
    """The first part under ferpipe of every ferpipe module `path` imports (`ferpipe.svm.fit` -> svm)."""
    return {n.split(".")[1] for n in imported_modules(path) if n.startswith("ferpipe.")}


def folders() -> list[str]:
    return sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def files_of(place: str) -> list[Path]:
    return [PACKAGE / f"{place}.py"] if place in MODULES else sorted((PACKAGE / place).rglob("*.py"))


def test_every_folder_has_a_place():
    assert folders() == sorted(set(LEVEL) - MODULES)
    assert all((PACKAGE / f"{module}.py").is_file() for module in MODULES)


@pytest.mark.parametrize("folder", sorted(LEVEL))
def test_a_folder_uses_only_those_below_it(folder):
    upward = {f"{path.relative_to(PACKAGE)} -> {part}"
              for path in files_of(folder)
              for part in imported_parts(path) if part != folder and level_of(part) >= LEVEL[folder]}
    assert not upward, sorted(upward)


def test_nothing_in_the_package_uses_the_test_support():
    """tests/support/ is not installed with ferpipe: an import of it would work in a checkout only."""
    users = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if {name.split(".")[0] for name in imported_modules(p)} & {"support", "tests"}]
    assert not users


def test_the_check_sees_an_import_of_the_test_support(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from support.stage_runs import REPO\n")
    assert imported_modules(module) == {"support.stage_runs"}


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ferpipe.apply.keras_classifier import KerasClassifier\n")
    assert imported_parts(module) == {"apply"} and level_of("apply") > LEVEL["export"]


def test_the_package_s_own_modules_are_the_dispatcher_and_the_registry():
    """Commands live in ferpipe/commands/, code of a part in its folder: nothing else at the top."""
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == sorted({"__init__", "__main__"} | MODULES)
