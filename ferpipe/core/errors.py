"""The one exception type a stage turns into a clear message and a non-zero exit."""


class FerpipeError(Exception):
    """Bad input or parameter. The message names the file or parameter at fault."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FerpipeError(message)
