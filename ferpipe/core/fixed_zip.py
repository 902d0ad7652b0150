"""Zip archives with the same bytes for the same content (DVC hashes every output).

Python's zipfile stamps each entry with the time it is written, and numpy's `savez`, skops and Keras
all write through it; here every entry gets one fixed date (1980-01-01, zip's earliest), the same
permissions and no compression, in the order given. skops and Keras also write objects' memory
addresses (`id()`) into their JSON; `number_in_order` replaces them by numbers.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Callable, Iterable

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


def number_in_order(state, number: Callable[[str, object], object | None]) -> None:
    """Walk a JSON state (dicts and lists) in its order and set, in place, each dict value for which
    `number(key, value)` gives a replacement (and leave it unwalked); walk the others."""
    if isinstance(state, list):
        for item in state:
            number_in_order(item, number)
    if not isinstance(state, dict):
        return
    for key, value in state.items():
        new = number(key, value)
        if new is None:
            number_in_order(value, number)
        else:
            state[key] = new
