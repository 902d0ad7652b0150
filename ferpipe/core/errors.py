"""The exception types a stage turns into a clear message and a non-zero exit."""
import errno

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
