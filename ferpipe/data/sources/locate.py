"""Finding a dataset's root inside a folder (archives often unpack into a sub-folder)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ferpipe.core.errors import FerpipeError


def find_root(path: Path, is_root: Callable[[Path], bool], expected: str, max_depth: int = 3) -> Path:
    """Return `path` or the shallowest folder below it (up to `max_depth` levels) that `is_root` accepts."""
    if not path.exists():
        raise FerpipeError(f"{path}: no such file or folder")
    level = [path] if path.is_dir() else []
    for _ in range(max_depth + 1):
        for folder in level:
            if is_root(folder):
                return folder
        level = sorted(child for folder in level for child in folder.iterdir()
                       if child.is_dir() and not child.name.startswith("."))
    raise FerpipeError(f"{path}: does not contain {expected}")
