"""All-or-nothing outputs: write into temporary paths, move into place only on success.

DVC deletes a stage's outputs before running it; a stage that fails half way must not leave a
partial dataset or a stale metrics file behind, so every output goes through `staged_outputs`.
A temporary path is `.<final name>.tmp-<8 hex digits>` beside its final path (git-ignored); one left
by a killed run (SIGKILL, out of memory) is removed when the stage next starts.

An output replaces only what ferpipe wrote there before: each folder that receives outputs keeps a
manifest, `.ferpipe-outputs` (the names written into it, and of a folder what it held; git- and
DVC-ignored), and a path that exists is replaced only when it is empty, named in its folder's manifest
(a folder still holding just what was written), or recognised by the command itself (a file with its
generated header). Anything else there, and always the working
folder, a folder above it, the home folder or a folder holding `.git` or `.dvc`, is one error line
before anything is written. A full or read-only disk is one error line naming the output, with the
temporary paths removed.

A file written into a user's folder (`predict --out`) goes through `new_file`, which never replaces
anything: not a file that was there, nor one or a link put there while the run wrote.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from pathlib import Path
from typing import Callable, Iterator

from ferpipe.core import params
from ferpipe.core.errors import DISK_FAULTS, FerpipeError
from ferpipe.core.records import FileName, Sha256, parse_json, validated
from ferpipe.core.textfile import kind_of, opened_regular, read_text

MANIFEST = ".ferpipe-outputs"
NAME_MAX = 255  # bytes of one file name (Linux, macOS)
_MANIFEST_LIMIT = 1 << 20
_PROJECT_MARKS = (".git", ".dvc")
_NEARLY_FULL = 1 << 20


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


def listing(path: Path) -> str | None:
    """What a folder output held when written: the sha256 of its entries' relative paths (a later run
    replaces it only while it holds just those); None for a file."""
    if not path.is_dir() or path.is_symlink():
        return None
    names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))
    return hashlib.sha256("\0".join(names).encode(errors="surrogateescape")).hexdigest()


def written_outputs(folder: Path) -> dict[str, str | None]:
    """The outputs that ferpipe wrote into `folder` (its manifest): name -> `listing`; a manifest that is
    not the project's is an error naming it."""
    path = folder / MANIFEST
    if not os.path.lexists(path):
        return {}
    return validated(dict[FileName, Sha256 | None], parse_json(read_text(path, _MANIFEST_LIMIT), str(path)),
                     str(path), f"remove {path} to start a new one")


def record_written(folder: Path, names: list[str], sources: list[Path] | None = None) -> None:
    """Note `names` in `folder`'s manifest, each with the `listing` of its source (default: `folder/name`), under
    a lock on the folder (stages may write beside each other)."""
    entries = {name: listing(source) for name, source in zip(names, sources or [folder / n for n in names])}
    path = folder / MANIFEST
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        known = written_outputs(folder)
        if all(known.get(name, "") == value for name, value in entries.items()):
            return
        temp = temp_path(path, uuid.uuid4().hex[:8])
        temp.write_text(json.dumps(dict(sorted({**known, **entries}.items())), indent=0) + "\n")
        os.replace(temp, path)
    finally:
        os.close(fd)


def _in_place(final: Path) -> Path:
    """`final` absolute with the links of its folder resolved (the last component is not followed)."""
    absolute = Path(os.path.abspath(final))
    return absolute.parent.resolve() / absolute.name


def check_replaceable(final: Path, recognise: Callable[[Path], bool] | None = None) -> None:
    """Refuse `final` as an output path unless writing it loses nothing that ferpipe did not write (see
    the module docstring); `recognise(final)` says whether an existing path is this command's own."""
    real = _in_place(final)
    if real.name == MANIFEST:
        raise FerpipeError(f"{final}: the name of ferpipe's record of the outputs it wrote, never an output; name another")
    longest = len(temp_path(real, "0" * 8).name.encode())
    if longest > NAME_MAX:
        raise FerpipeError(f"{final}: a name of {len(real.name.encode())} bytes; an output's name may have at most "
                           f"{NAME_MAX - longest + len(real.name.encode())} (its temporary name is longer)")
    here = Path.cwd().resolve()
    if real == here or real in here.parents or real == Path.home().resolve():
        raise FerpipeError(f"{final}: is the working folder, the home folder or a folder above them, never an "
                           "output; name a new path")
    try:
        mode = os.lstat(real).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FerpipeError(f"{final}: cannot use it as an output ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        marks = [m for m in _PROJECT_MARKS if os.path.lexists(real / m)]
        if marks:
            raise FerpipeError(f"{final}: holds {marks[0]} (a project), never replaced by an output; name a new path")
        empty = not any(os.scandir(real))
    elif stat.S_ISREG(mode):
        empty = os.lstat(real).st_size == 0
    elif stat.S_ISLNK(mode):
        empty = False
    else:
        raise FerpipeError(f"{final}: is {kind_of(mode)}, never replaced by an output; name a new path")
    written = written_outputs(real.parent)
    ours = real.name in written and written[real.name] == listing(real)
    if empty or ours or (recognise is not None and recognise(real)):
        return
    what = "a folder" if stat.S_ISDIR(mode) else "a link" if stat.S_ISLNK(mode) else "a file"
    why = "its files changed since ferpipe wrote it" if real.name in written else f"not in {real.parent / MANIFEST}"
    raise FerpipeError(f"{final}: {what} that ferpipe did not write is there ({why}), and an output never "
                       "replaces it; move it away or name a new path")


def generated_file(marker: str) -> Callable[[Path], bool]:
    """A recogniser for `staged_outputs`: a regular file whose first 4 KiB hold `marker` (its generated header)."""
    def recognise(path: Path) -> bool:
        try:
            with opened_regular(path, "a file", follow_links=False) as fh:
                return marker.encode() in fh.read(4096)
        except FerpipeError:
            return False
    return recognise


def _nearly_full(folder: Path) -> bool:
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < _NEARLY_FULL


def _write_fault(exc: BaseException, finals: list[Path], temps: list[Path]) -> FerpipeError | None:
    """The one-line error for a failure that the disk caused (full, read-only, no permission), or None; it
    names the output (not its temporary path)."""
    names = ", ".join(map(str, finals))
    if isinstance(exc, OSError) and exc.errno in DISK_FAULTS:
        where = str(exc.filename) if exc.filename else names
        for temp, final in zip(temps, finals):
            if where == str(temp) or where.startswith(f"{temp}/"):
                where = str(final)
        return FerpipeError(f"cannot write {where} ({exc.strerror or exc})")
    if isinstance(exc, Exception) and not isinstance(exc, FerpipeError) and any(_nearly_full(f.parent) for f in finals):
        return FerpipeError(f"cannot write {names}: the disk is full ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no message'})")
    return None


@contextlib.contextmanager
def staged_outputs(*finals: str | Path, recognise: Callable[[Path], bool] | None = None) -> Iterator[list[Path]]:
    """Yield one temporary path per final path (same folder, so the final move is a rename).

    Every final path is checked first (`check_replaceable`). On success, and while every params file
    read inside the block still holds what was read (`ferpipe.core.params.watched`), each temporary path
    replaces its final path, whose name goes into its folder's manifest. On any exception the temporary paths
    and the final paths are removed, so nothing partial or stale remains; a disk that is full or
    read-only is one FerpipeError naming the output.
    """
    finals_p = [Path(p) for p in finals]
    tag = uuid.uuid4().hex[:8]
    temps: list[Path] = []
    made: list[Path] = []  # folders this run created for its outputs: removed again if it fails
    for final in finals_p:
        check_replaceable(final, recognise)
    with params.watched() as params_unchanged:  # what the stage read from params files must hold at the end
        try:
            for final in finals_p:
                made += reversed([p for p in (final.parent, *final.parent.parents) if not p.exists()])
                final.parent.mkdir(parents=True, exist_ok=True)
                _remove_stale_temps(final)
                temps.append(temp_path(final, tag))
            yield temps
            for temp, final in zip(temps, finals_p):
                if not temp.exists():
                    raise RuntimeError(f"stage did not write its output {final}")
            params_unchanged()
            for temp, final in zip(temps, finals_p):
                record_written(final.parent, [final.name], [temp])
            for temp, final in zip(temps, finals_p):
                _remove(final)
                os.replace(temp, final)
        except BaseException as exc:
            fault = _write_fault(exc, finals_p, temps)
            for path in temps + finals_p:
                with contextlib.suppress(OSError):
                    _remove(path)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only where it is still empty
            if fault is not None:
                raise fault from exc
            raise


@contextlib.contextmanager
def new_file(final: Path) -> Iterator[Path]:
    """Yield a new, empty temporary file beside `final` (same suffix, for writers that go by it) to write.

    On success it is hard-linked to `final`, which fails where anything has that name by then (a link
    is neither followed nor replaced); on any exception, an interruption included, it is removed, so
    no partial file is left and a rerun finds the name free.
    """
    ending = f".tmp-{uuid.uuid4().hex[:8]}{final.suffix}"
    room = NAME_MAX - len(f".{ending}".encode())  # a final name near the limit still has a temporary one
    temp = final.with_name("." + final.stem.encode(errors="surrogateescape")[:room].decode(errors="ignore") + ending)
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
