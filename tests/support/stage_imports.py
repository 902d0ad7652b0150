"""The ferpipe modules a stage script imports, followed through the package (for the dvc.yaml deps test)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]  # not support.REPO: this file also runs as a script, without tests/ on the path


def module_file(name: str, root: Path = REPO) -> Path | None:
    """The source file of module `name` under `root`, or None where it is not one of the project's."""
    base = root / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, members: bool = False) -> set[str]:
    """Every module `path` imports by its absolute name, at the top or inside functions (`from a.b import
    c` -> a.b); with `members`, a.b.c too, since c may be a sub-module or just a name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if members:
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names - {"__future__"}


def has_code(path: Path) -> bool:
    """False for a package __init__.py that holds only its docstring (importing it runs nothing)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def imported_files(script: Path) -> set[Path]:
    """Every ferpipe source file that running `script` may execute (imports inside functions included)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in {n for n in imported_names(todo.pop(), members=True) if n.split(".")[0] == "ferpipe"}:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__, then c
                path = module_file(".".join(parts[:i]))
                if path and path not in seen and (path.name != "__init__.py" or has_code(path)):
                    seen.add(path)
                    todo.append(path)
    return {p.relative_to(REPO) for p in seen}


# ---- the code deps of dvc.yaml: `python tests/support/stage_imports.py` writes them -------------------------

DVC_YAML = REPO / "dvc.yaml"
WIDTH = 120  # dvc.yaml's deps lines wrap here


def is_code(dep: str) -> bool:
    """A dep on code (the stage's script, ferpipe): written by `write_deps`; every other dep (data,
    params.yaml) is written by hand."""
    return dep.startswith(("stages/", "ferpipe/"))


def _covered(folder: Path) -> set[Path] | None:
    """The code files a dep on `folder` covers; None where it holds other files too (they would rerun the stage)."""
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    if any(p.suffix != ".py" for p in files):
        return None
    return {p.relative_to(REPO) for p in files if p.name != "__init__.py" or has_code(p)}


def code_deps(script: Path) -> list[str]:
    """The deps that cover exactly the code `script` runs: a folder where it imports every file in it
    (the outermost such folder), single files elsewhere; sorted."""
    left = imported_files(script)
    folders = {folder for path in left for folder in path.parents if len(folder.parts) > 1}  # below ferpipe/
    deps = []
    for folder in sorted(folders, key=lambda p: (len(p.parts), p)):
        covered = _covered(REPO / folder)
        if covered and covered <= left:
            deps.append(folder)
            left -= covered
    return sorted(map(str, [*deps, *left]))


def _wrapped(items: list[str], last: bool) -> list[str]:
    text = ", ".join(items) + ("]" if last else ",")
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(" " * 6 + line + " " + word) > WIDTH:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [" " * 6 + line for line in [*lines, line]]


def deps_lines(data: list[str], script: str) -> list[str]:
    """A stage's `deps:` in dvc.yaml: what it reads and its script on the first line, then the ferpipe
    code it imports, a line per part (ferpipe/core, ferpipe/data, ...)."""
    parts: dict[str, list[str]] = {}
    for dep in code_deps(REPO / script):
        parts.setdefault(dep.split("/")[1], []).append(dep)
    rows = [[*data, script], *parts.values()]
    lines = [line for i, row in enumerate(rows) for line in _wrapped(row, i == len(rows) - 1)]
    return ["    deps: [" + lines[0].lstrip(), *lines[1:]]


def stage_script(cmd: str) -> str:
    return re.search(r"\bstages/\S+\.py\b", cmd).group(0)


def written_deps(text: str) -> str:
    """dvc.yaml's `text` with each stage's deps written by `deps_lines` (its data deps kept, in their order)."""
    stages = yaml.safe_load(text)["stages"]
    lines, out, stage = text.splitlines(), [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        if match := re.fullmatch(r"  (\w+):", line):
            stage = match[1] if match[1] in stages else None
        if stage and line.startswith("    deps:"):
            i += 1  # the old deps end where the next key of the stage (4 spaces) or the next stage begins
            while i < len(lines) and (lines[i].startswith(" " * 6) or not lines[i].strip()):
                i += 1
            deps = stages[stage]["deps"]
            out += deps_lines([d for d in deps if not is_code(d)], stage_script(stages[stage]["cmd"]))
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    text = DVC_YAML.read_text()
    DVC_YAML.write_text(written_deps(text))
    print(f"{DVC_YAML.relative_to(REPO)}: the code deps of each stage {'unchanged' if written_deps(text) == text else 'rewritten'}")
