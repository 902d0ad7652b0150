"""Reading the text files a user hands in (params, labels, csv, credentials): UTF-8 or an error naming the file."""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.errors import FerpipeError

_BOMS = {b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16", b"\xef\xbb\xbf": None}


def read_text(path: str | Path) -> str:
    """The UTF-8 text of `path` (a UTF-8 byte-order mark is dropped); another encoding, a folder or an
    unreadable file is an error naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError as exc:
        raise FerpipeError(f"{path}: is a folder, expected a text file") from exc
    except OSError as exc:
        raise FerpipeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
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
