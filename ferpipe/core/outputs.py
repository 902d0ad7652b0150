"""All-or-nothing outputs: write into temporary paths, move into place only on success.

DVC deletes a stage's outputs before running it; a stage that fails half way must not leave a
partial dataset or a stale metrics file behind, so every output goes through `staged_outputs`.
A temporary path is `.<final name>.tmp-<8 hex digits>` beside its final path (git-ignored); one left
by a killed run (SIGKILL, out of memory) is removed when the stage next starts.

A file written into a user's folder (`predict --out`) goes through `new_file`, which never replaces
anything: not a file that was there, nor one or a link put there while the run wrote.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from ferpipe.core.errors import FerpipeError


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


@contextlib.contextmanager
def new_file(final: Path) -> Iterator[Path]:
    """Yield a new, empty temporary file beside `final` (same suffix, for writers that go by it) to write.

    On success it is hard-linked to `final`, which fails where anything has that name by then (a link
    is neither followed nor replaced); on any exception, an interruption included, it is removed, so
    no partial file is left and a rerun finds the name free.
    """
    temp = final.with_name(f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
    except OSError as exc:
        raise FerpipeError(f"{final}: cannot write here ({exc.strerror or exc})") from exc
    try:
        yield temp
        try:
            os.link(temp, final, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise FerpipeError(f"{final}: appeared while this run wrote it, and is not overwritten") from exc
            raise FerpipeError(f"{final}: cannot write here ({exc.strerror or exc})") from exc
    finally:
        temp.unlink(missing_ok=True)
