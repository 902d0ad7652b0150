"""The exception types a stage turns into a clear message and a non-zero exit."""


class FerpipeError(Exception):
    """Bad input or parameter. The message names the file or parameter at fault."""


class Terminated(BaseException):
    """SIGTERM, raised where the program runs (`ferpipe.core.cli`); a BaseException, as KeyboardInterrupt is,
    so that no `except Exception` stops it."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FerpipeError(message)
