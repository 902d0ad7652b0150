"""`-S key=value` overrides as `dvc exp run` applies them, so that a sweep can check the parameters
they give (`ferpipe.registry.check_stage_params`) before anything is queued: a bad value (`-S lr=abc`)
is one clear error up front rather than a failed experiment in the queue."""
from __future__ import annotations

import difflib
import re
import tempfile
from pathlib import Path
from typing import Any

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.params import load_params
from ferpipe.core.textfile import read_text

_PLAIN = re.compile(r"[A-Za-z0-9_./:~-]+")


def hydra_value(value: Any) -> str:
    """`value` written so that DVC's `-S key=<text>` (Hydra's override grammar) reads it back as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in ("true", "false", "null"):
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise FerpipeError(f"cannot pass {value!r} as a -S value (only numbers, strings, lists, true/false, null)")


def override(key: str, value: Any) -> str:
    return f"{key}={hydra_value(value)}"


def override_key(text: str) -> str:
    """The dotted parameter an override sets: `lr` of `lr=0.1`."""
    key, sep, _ = text.partition("=")
    require(bool(sep) and key.strip() != "", f"-S {text}: expected key=value, e.g. -S lr=0.01")
    return key.strip().lstrip("+~")


def check_key_exists(params: dict[str, Any], text: str) -> None:
    """The key of `-S key=value` must be a parameter of the file (which holds every parameter: none has a
    default), with the nearest one as a hint; Hydra's own answer would be to append it (`+key=value`),
    which no stage reads. A key given with Hydra's `+` or `~` is left to DVC and the parameter checks."""
    if text.lstrip()[:1] in ("+", "~"):
        return
    key = override_key(text)
    node: Any = params
    for depth, part in enumerate(parts := key.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:depth])
            near = difflib.get_close_matches(part, list(node), n=1) if isinstance(node, dict) else []
            hint = f" (did you mean {where + '.' if where else ''}{near[0]}?)" if near else ""
            what = f"unknown parameter {key}" if isinstance(node, dict) else f"{where} is a value, not a block"
            raise FerpipeError(f"-S {text[:200]}: {what}{hint}")
        node = node[part]


def check_single_values(overrides: list[str]) -> None:
    """Refuse grid syntax (`-S lr=0.1,0.01`): a sweep's grid comes from sweeps.yaml only."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    for text in overrides:
        override_key(text)
        try:
            parsed = OverridesParser.create().parse_overrides([text])[0]
        except OverrideParseException as exc:
            raise FerpipeError(f"-S {text}: not a valid override ({str(exc).splitlines()[0]})") from exc
        require(not parsed.is_sweep_override(),
                f"-S {text}: a sweep takes single values; its grid comes from sweeps.yaml")


def apply_overrides(params_path: str | Path, overrides: list[str]) -> dict[str, Any]:
    """The parameters `dvc exp run -S ...` would run with: `params_path` with `overrides` applied by
    DVC's own code. An unknown key or a malformed value is an error naming the override."""
    from dvc.exceptions import InvalidArgumentError
    from dvc.utils.hydra import apply_overrides as dvc_apply

    params = load_params(params_path)  # a missing, non-UTF-8 or malformed file is one error naming it, before DVC reads it
    for text in overrides:
        check_key_exists(params, text)
    params_text = read_text(params_path)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "params.yaml"
        copy.write_text(params_text)
        try:
            dvc_apply(copy, overrides)  # at once: DVC parses and rewrites the file for each call
        except InvalidArgumentError:
            copy.write_text(params_text)
            for text in overrides:  # one by one, so that the error names its override
                try:
                    dvc_apply(copy, [text])
                except InvalidArgumentError as exc:
                    cause = " ".join(line.strip() for line in str(exc.__cause__ or exc).splitlines() if line.strip())
                    raise FerpipeError(f"-S {text}: {cause or 'not a valid override'}") from exc
            raise FerpipeError(f"-S {' -S '.join(overrides)}: DVC refuses them together, though not one by one")
        return load_params(copy, where=f"{params_path} with -S {' -S '.join(overrides)}"[:300])
