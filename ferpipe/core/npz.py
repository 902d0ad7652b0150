"""Reading the `.npz` array files passed between stages, with clear errors for a missing or foreign file."""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from ferpipe.core.errors import FerpipeError, require
from ferpipe.core.textfile import opened_regular


def read_arrays(path: str | Path, fields: Sequence[str], kind: str, producer: str) -> dict[str, np.ndarray]:
    """Every array of `path`; `fields` must be among them. `kind` names the file ("predictions"),
    `producer` what writes it ("run the embed stage")."""
    path = Path(path)
    require(path.exists() or path.is_symlink(), f"{path}: {kind} file not found; {producer}")
    with opened_regular(path, f"a {kind} file (.npz)") as fh:  # a device or FIFO: refused, not read
        try:
            data = np.load(fh)
            require(isinstance(data, np.lib.npyio.NpzFile), f"{path}: not a valid {kind} file (a single .npy "
                                                            "array, not an .npz archive of named arrays)")
            with data:
                out = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            cause = str(exc).split(". ")[0]  # numpy's advice to unpickle does not apply to these files
            raise FerpipeError(f"{path}: not a valid {kind} file ({cause})") from exc
    missing = [k for k in fields if k not in out]
    require(not missing, f"{path}: not a valid {kind} file (missing {', '.join(missing)})")
    return out
