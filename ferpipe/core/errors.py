"""The exception types a stage turns into a clear message and a non-zero exit."""
import errno
import re

# What the machine, not the input, makes fail (a full, read-only or forbidden disk): one error line, no traceback.
DISK_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO})


class FerpipeError(Exception):
    """Bad input or parameter. The message names the file or parameter at fault."""


class Terminated(BaseException):
    """SIGTERM, raised where the program runs (`ferpipe.core.cli`); a BaseException, as KeyboardInterrupt is,
    so that no `except Exception` stops it."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FerpipeError(message)


SHOWN = 60  # characters of a value that an error line shows


def shown(value) -> str:
    """`value` for an error line: its repr, cut to a few dozen characters (a 5 MB value is not echoed)."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + f"... ({len(text):,} characters)"


# C0 and C1 controls (ESC starts a terminal's escape sequences), DEL, and the bidirectional overrides that
# reorder what a terminal shows: written as escapes wherever a name a user chose is printed.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with control characters written as escapes (`\\x1b`), so that a file name cannot drive the terminal."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)
