"""Bad params files: `params check` and a stage, in-process, give one `error:` line naming the file or the
parameter, exit 1, and write nothing; special files are refused at once, not waited on or read for ever."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from stage_runs import expect_error, result_of, stage_result

from ferpipe import params_command

REPO = Path(__file__).resolve().parents[2]
PARAMS = (REPO / "params.yaml").read_text()


def check(path: Path) -> tuple[int, list[str]]:
    return result_of(params_command._main, "check", "--params", path)


def fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "params.yaml")
    return tmp / "params.yaml"


def text(content: str):
    def write(tmp: Path) -> Path:
        (tmp / "params.yaml").write_text(content)
        return tmp / "params.yaml"
    return write


SPECIAL_CASES = [
    ("a FIFO", fifo, "params.yaml: is a FIFO (named pipe), expected a text file"),
    ("/dev/zero", lambda tmp: Path("/dev/zero"), "/dev/zero: is a character device, expected a text file"),
    ("a key given twice", text(PARAMS + "lr: 0.5\n"), "params.yaml: not valid YAML (line"),
    ("nested 5,000 deep", text("a: " + "[" * 5000 + "]" * 5000 + "\n"), "params.yaml: nested deeper than 64 levels"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in SPECIAL_CASES], ids=[c[0] for c in SPECIAL_CASES])
def test_bad_params_file_in_params_check(tmp_path, make, message):
    expect_error(check(make(tmp_path)), message)


@pytest.mark.parametrize("make, message", [c[1:] for c in SPECIAL_CASES], ids=[c[0] for c in SPECIAL_CASES])
def test_bad_params_file_in_a_stage(tmp_path, make, message):
    outputs = [tmp_path / "dataset", tmp_path / "data.json"]
    expect_error(stage_result("fetch", "--params", make(tmp_path), "--out", outputs[0], "--metrics", outputs[1]),
                 message, outputs)


def test_a_key_given_twice_is_named(tmp_path):
    line = expect_error(check(text(PARAMS + "lr: 0.5\n")(tmp_path)), "key 'lr' given twice")
    assert f"line {len(PARAMS.splitlines()) + 1}," in line
