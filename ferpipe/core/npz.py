"""Reading the `.npz` array files passed between stages, with clear errors for a missing or foreign file."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ferpipe.core.errors import FerpipeError, require


def read_arrays(path: str | Path, fields: Sequence[str], kind: str, producer: str) -> dict[str, np.ndarray]:
    """Every array of `path`; `fields` must be among them. `kind` names the file ("predictions"),
    `producer` what writes it ("run the embed stage")."""
    path = Path(path)
    require(path.is_file(), f"{path}: {kind} file not found; {producer}")
    try:
        with np.load(path) as data:
            out = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise FerpipeError(f"{path}: not a valid {kind} file ({exc})") from exc
    missing = [k for k in fields if k not in out]
    require(not missing, f"{path}: not a valid {kind} file (missing {', '.join(missing)})")
    return out
