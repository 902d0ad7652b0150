"""Every `from ferpipe.<module> import <name>` in the project names something that module defines, in its
Python files and in the Python that its shell scripts run (`python - <<'PY'` blocks of results/*/run.sh).

Imports inside functions (the lazy ones that keep TensorFlow and torch out of light commands) only fail
when their function runs, which for a benchmark script may be on a GPU machine; this reads the source
instead, so a renamed or moved function is caught in the fast loop."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from support.stage_imports import REPO, module_file

SOURCE_FOLDERS = ("ferpipe", "stages", "benchmarks", "tests")


def defined_names(path: Path) -> set[str]:
    """Names bound at the top level of a module (definitions, assignments, imports, and the names that
    `if`/`try` blocks at the top level bind)."""
    names: set[str] = {"__doc__", "__file__", "__name__"}  # every module has these

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))

    visit(ast.parse(path.read_text()).body)
    return names


def project_files() -> list[Path]:
    return sorted(p for folder in SOURCE_FOLDERS for p in (REPO / folder).rglob("*.py")
                  if ".venv" not in p.parts and "__pycache__" not in p.parts)


def unresolved_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    problems = []
    imported_modules: dict[str, str] = {}  # a local name -> the ferpipe module it names
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                and node.module.split(".")[0] == "ferpipe"):
            continue
        target = module_file(node.module)
        if target is None:
            problems.append(f"line {node.lineno}: no module {node.module}")
            continue
        known = defined_names(target)
        for alias in node.names:
            if module_file(f"{node.module}.{alias.name}") is not None:
                imported_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif alias.name != "*" and alias.name not in known:
                problems.append(f"line {node.lineno}: {node.module} has no {alias.name}")
    for node in ast.walk(tree):  # `from ferpipe.eval import traditional` then `traditional.main`
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported_modules:
            module = imported_modules[node.value.id]
            if node.attr not in defined_names(module_file(module)) and module_file(f"{module}.{node.attr}") is None:
                problems.append(f"line {node.lineno}: {module} has no {node.attr}")
    return problems


def test_the_checker_sees_a_missing_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ferpipe.nn.schedule import epoch_batches, no_such_function\n")
    assert unresolved_imports(bad) == ["line 2: ferpipe.nn.schedule has no no_such_function"]


def test_the_checker_sees_a_missing_attribute_of_an_imported_module(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ferpipe.nn import schedule\n\nschedule.epoch_batches\nschedule.no_such_function(1)\n")
    assert unresolved_imports(bad) == ["line 4: ferpipe.nn.schedule has no no_such_function"]


@pytest.mark.parametrize("path", project_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_ferpipe_import_resolves(path):
    assert unresolved_imports(path) == []


SHELL_PYTHON = re.compile(r"<<'PY'\n(.*?)\nPY\n", re.S)  # a shell script's `python - ... <<'PY'` block


def shell_scripts() -> list[Path]:
    return sorted(p for folder in ("results", "benchmarks", ".ci") for p in (REPO / folder).rglob("*.sh"))


def shell_python_problems(script: Path, work: Path) -> list[str]:
    problems = []
    for number, block in enumerate(SHELL_PYTHON.findall(script.read_text()), 1):
        code = work / f"{script.stem}_{number}.py"
        code.write_text(block + "\n")
        problems += [f"python block {number}: {problem}" for problem in unresolved_imports(code)]
    return problems


def test_the_checker_reads_the_python_of_a_shell_script(tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("python - a <<'PY'\nfrom ferpipe.experiments.overrides import check_stage_params\nPY\n")
    assert shell_python_problems(script, tmp_path) == [
        "python block 1: line 1: ferpipe.experiments.overrides has no check_stage_params"]


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_ferpipe_import_of_a_shell_script_resolves(script, tmp_path):
    assert shell_python_problems(script, tmp_path) == []
