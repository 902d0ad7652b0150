"""All-or-nothing stage outputs: write into temporary paths, move into place only on success.

DVC deletes a stage's outputs before running it; a stage that fails half way must not leave a
partial dataset or a stale metrics file behind, so every output goes through `staged_outputs`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


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
        temps.append(final.with_name(f".{final.name}.tmp-{tag}"))
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
