"""Each folder of the package uses only the folders below it (imports inside functions included), so that
code two parts share lives low enough for both: the order of the method, from files to the report. And no
module imports itself back through others (no import cycle, inside a folder either), so that each module
reads without those that use it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.stage_imports import REPO, imported_names

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


def imported_parts(path: Path) -> set[str]:
    """The first part under ferpipe of every ferpipe module `path` imports (`ferpipe.svm.fit` -> svm)."""
    return {n.split(".")[1] for n in imported_names(path) if n.startswith("ferpipe.")}


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_cycles(files: list[Path], root: Path = PACKAGE.parent) -> list[list[str]]:
    """Each set of modules that import one another round in a circle (Tarjan's strongly connected
    components of more than one module, or a module that imports itself), sorted."""
    modules = {module_name(p, root): p for p in files}
    graph = {m: imported_names(p, members=True) & set(modules) for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(component) > 1 or module in graph[module]:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


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


def test_no_import_cycle_in_the_package():
    """Between folders the order above rules cycles out; this finds those inside a folder (and between
    the package's own modules, which share the top)."""
    assert not import_cycles(sorted(PACKAGE.rglob("*.py")))


def test_the_cycle_check_sees_a_cycle_through_a_function_level_import(tmp_path):
    folder = tmp_path / "ferpipe" / "nn"
    folder.mkdir(parents=True)
    (folder / "loop.py").write_text("from ferpipe.nn.schedule import epoch_batches\n")
    (folder / "schedule.py").write_text("from ferpipe.nn import steps\n")
    (folder / "steps.py").write_text("def f():\n    from ferpipe.nn.loop import Loop\n")
    (folder / "alone.py").write_text("import ferpipe.nn.schedule\n")
    files = sorted(folder.glob("*.py"))
    assert import_cycles(files, tmp_path) == [["ferpipe.nn.loop", "ferpipe.nn.schedule", "ferpipe.nn.steps"]]
    (folder / "steps.py").write_text("def f():\n    from ferpipe.core.errors import require\n")
    assert import_cycles(files, tmp_path) == []


def test_nothing_in_the_package_uses_the_test_support():
    """tests/support/ is not installed with ferpipe: an import of it would work in a checkout only."""
    users = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if {name.split(".")[0] for name in imported_names(p)} & {"support", "tests"}]
    assert not users


def test_the_check_sees_an_import_of_the_test_support(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from support.stage_runs import REPO\n")
    assert imported_names(module) == {"support.stage_runs"}


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ferpipe.apply.keras_classifier import KerasClassifier\n")
    assert imported_parts(module) == {"apply"} and level_of("apply") > LEVEL["export"]


def test_the_package_s_own_modules_are_the_dispatcher_and_the_registry():
    """Commands live in ferpipe/commands/, code of a part in its folder: nothing else at the top."""
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == sorted({"__init__", "__main__"} | MODULES)
