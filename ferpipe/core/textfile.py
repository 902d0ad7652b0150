"""Reading the files a user hands in: text (params, labels, csv, credentials) as UTF-8, photos, videos,
archives and models as bytes, each an error naming the file where it cannot be.

Only a regular file is read: a FIFO would block for ever and a device such as /dev/zero never ends,
so either is refused at once, and a file larger than its cap is refused before it is read.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, Iterator

from ferpipe.core.errors import FerpipeError

_BOMS = {b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16", b"\xef\xbb\xbf": None}
TEXT_LIMIT = 1 << 30  # FER-2013's csv, the largest text input, is 287 MiB
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a file of stat mode `mode` is, in words ("a FIFO (named pipe)"); "" for a regular file."""
    return next((name for test, name in _KINDS if test(mode)), "" if stat.S_ISREG(mode) else "not a regular file")


def require_regular(path: str | Path, expected: str = "a file") -> None:
    """`path` (links followed) must be a regular file; a folder, FIFO, device or socket is an error naming it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise FerpipeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    kind = kind_of(mode)
    if kind:
        raise FerpipeError(f"{path}: is {kind}, expected {expected}")


@contextlib.contextmanager
def opened_regular(path: str | Path, expected: str, follow_links: bool = True) -> Iterator[BinaryIO]:
    """`path` open for reading in binary, checked to be a regular file on its open descriptor: it is opened
    without blocking, so a FIFO (put in its place after any earlier check) is refused, not waited on;
    without `follow_links`, a symbolic link at `path` is refused too."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW))
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise FerpipeError(f"{path}: is a symbolic link, expected {expected}") from exc
        raise FerpipeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    kind = kind_of(os.fstat(fd).st_mode)
    if kind:
        os.close(fd)
        raise FerpipeError(f"{path}: is {kind}, expected {expected}")
    with os.fdopen(fd, "rb") as fh:
        yield fh


def read_bytes(path: str | Path, limit: int, expected: str = "a text file", follow_links: bool = True) -> bytes:
    """The bytes of the regular file `path` (see `opened_regular`), at most `limit` of them."""
    with opened_regular(path, expected, follow_links) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise FerpipeError(f"{path}: {size:,} bytes, more than the limit of {limit:,} bytes")
        try:
            raw = fh.read(limit + 1)
        except OSError as exc:
            raise FerpipeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) > limit:  # the file grew while it was read
        raise FerpipeError(f"{path}: more than the limit of {limit:,} bytes")
    return raw


def read_text(path: str | Path, limit: int = TEXT_LIMIT) -> str:
    """The UTF-8 text of `path` (a UTF-8 byte-order mark is dropped); another encoding, anything but a
    regular file, a file over `limit` bytes or an unreadable file is an error naming the file."""
    raw = read_bytes(path, limit)
    for bom, encoding in _BOMS.items():
        if raw.startswith(bom):
            if encoding:
                raise FerpipeError(f"{path}: the file is {encoding}-encoded; save it as UTF-8")
            raw = raw[len(bom):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FerpipeError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                           "save it as UTF-8") from exc
