"""Array files handed to a stage or command (split, embeddings, predictions .npz): a device, FIFO, folder,
single .npy array or damaged archive is one `error:` line saying what it is, never "not found", a hang or
a traceback."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from support.stage_runs import expect_error, result_of

from ferpipe.core.errors import FerpipeError
from ferpipe.core.npz import read_arrays
from ferpipe.data.arrays import load_split
from ferpipe.commands import traditional


def fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "x.npz")
    return tmp / "x.npz"


def npy(tmp: Path) -> Path:
    np.save(tmp / "x.npy", np.zeros(3))
    return (tmp / "x.npy").rename(tmp / "x.npz")


def truncated(tmp: Path) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(1000))
    (tmp / "x.npz").write_bytes(buffer.getvalue()[:300])
    return tmp / "x.npz"


CASES = [
    ("/dev/zero", lambda tmp: Path("/dev/zero"), "/dev/zero: is a character device"),
    ("a FIFO", fifo, "x.npz: is a FIFO (named pipe)"),
    ("a folder", lambda tmp: tmp, "is a folder"),
    ("a single .npy", npy, "x.npz: not a"),
    ("a truncated archive", truncated, "x.npz: not a"),
    ("a link to /dev/zero", lambda tmp: (tmp / "x.npz").symlink_to("/dev/zero") or tmp / "x.npz", "is a character device"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("reader", [lambda p: read_arrays(p, ["a"], "predictions", "run x"), load_split],
                         ids=["predictions", "split"])
def test_an_array_file_that_is_none_says_what_it_is(tmp_path, make, message, reader):
    with pytest.raises(FerpipeError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        reader(make(tmp_path))
    assert "not found" not in str(err.value)


def test_traditional_with_a_device_as_predictions_names_it(tmp_path):
    out = tmp_path / "table.json"
    expect_error(result_of(traditional.main, "--params", str(Path(__file__).parents[2] / "params.yaml"),
                           "--softmax", "/dev/zero", "--lbp", "/dev/zero", "--out", str(out)),
                 "/dev/zero: is a character device, expected a predictions file", [out])
