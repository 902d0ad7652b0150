"""All-or-nothing stage outputs: write into temporary paths, move into place only on success.

DVC deletes a stage's outputs before running it; a stage that fails half way must not leave a
partial dataset or a stale metrics file behind, so every output goes through `staged_outputs`.
A temporary path is `.<final name>.tmp-<8 hex digits>` beside its final path (git-ignored); one left
by a killed run (SIGKILL, out of memory) is removed when the stage next starts.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def temp_path(final: Path, tag: str) -> Path:
    """Where `final` is written before it is moved into place; `tag` is 8 hex digits, one per run."""
    return final.with_name(f".{final.name}.tmp-{tag}")


def _remove_stale_temps(final: Path) -> None:
    """Remove the temporary paths of `final` that an earlier, killed run left behind."""
    stale = re.compile(re.escape(temp_path(final, "").name) + "[0-9a-f]{8}")
    for path in final.parent.iterdir():
        if stale.fullmatch(path.name):
            _remove(path)


@contextlib.contextmanager
def staged_outputs(*finals: str | Path) -> Iterator[list[Path]]:
    """Yield one temporary path per final path (same folder, so the final move is a rename).

    On success each temporary path replaces its final path. On any exception the temporary
    paths and the final paths are removed, so nothing partial or stale remains.
    """
    finals_p = [Path(p) for p in finals]
    tag = uuid.uuid4().hex[:8]
    temps = []
    for final in finals_p:
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(final)
        temps.append(temp_path(final, tag))
    try:
        yield temps
        for temp, final in zip(temps, finals_p):
            if not temp.exists():
                raise RuntimeError(f"stage did not write its output {final}")
    except BaseException:
        for path in temps + finals_p:
            _remove(path)
        raise
    for temp, final in zip(temps, finals_p):
        _remove(final)
        os.replace(temp, final)
