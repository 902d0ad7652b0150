"""The ferpipe modules a stage script imports, followed through the package (for the dvc.yaml deps test)."""
from __future__ import annotations

import ast
from pathlib import Path

from support import REPO


def _module_file(name: str) -> Path | None:
    base = REPO / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a sub-module, or just a name
    return {n for n in names if n.split(".")[0] == "ferpipe"}


def has_code(path: Path) -> bool:
    """False for a package __init__.py that holds only its docstring (importing it runs nothing)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def imported_files(script: Path) -> set[Path]:
    """Every ferpipe source file that running `script` may execute (imports inside functions included)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in _imported_names(todo.pop()):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__, then c
                path = _module_file(".".join(parts[:i]))
                if path and path not in seen and (path.name != "__init__.py" or has_code(path)):
                    seen.add(path)
                    todo.append(path)
    return {p.relative_to(REPO) for p in seen}
