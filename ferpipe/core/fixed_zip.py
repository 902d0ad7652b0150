"""Zip archives with the same bytes for the same content (DVC hashes every output).

Python's zipfile stamps each entry with the time it is written, and numpy's `savez`, skops and Keras
all write through it; here every entry gets one fixed date (1980-01-01, zip's earliest), the same
permissions and no compression, in the order given.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def write_fixed_zip(path: str | Path, entries: Iterable[tuple[str, bytes]]) -> None:
    """A stored (uncompressed) zip of `entries` (name, data), each dated FIXED_DATE with mode 0644."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """`arrays` as an .npz file at exactly `path` (np.load reads it as it reads `np.savez`'s), with fixed bytes."""
    def npy(array: np.ndarray) -> bytes:
        out = io.BytesIO()
        np.lib.format.write_array(out, np.asanyarray(array), allow_pickle=False)
        return out.getvalue()

    write_fixed_zip(path, ((f"{name}.npy", npy(array)) for name, array in arrays.items()))
