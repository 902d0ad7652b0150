"""Bad params files: `params check` and a stage, in-process, give one `error:` line naming the file or the
parameter, exit 1, and write nothing; special files are refused at once, not waited on or read for ever."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from stage_runs import expect_error, result_of, stage_result

from ferpipe import params_command
from ferpipe.core import memory
from ferpipe.data.arrays import save_split

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


def setting(dotted: str, value) -> Callable[[Path], Path]:
    """params.yaml with `dotted` set to `value` (written as YAML text, so `.inf` stays YAML's)."""
    def write(tmp: Path) -> Path:
        params = yaml.safe_load(PARAMS)
        *parents, last = dotted.split(".")
        block = params
        for key in parents:
            block = block[key]
        block[last] = value
        (tmp / "params.yaml").write_text(yaml.safe_dump(params))
        return tmp / "params.yaml"
    return write


BOUND_CASES = [
    ("epochs beyond any run", setting("epochs", 10**29), "params.yaml: epochs must be an integer in [1, 10000]"),
    ("a train seed above 32 bits", setting("train.seed", 2**32), "train.seed must be an integer in [0, 4294967295]"),
    ("a negative train seed", setting("train.seed", -1), "train.seed must be an integer in [0, 4294967295]"),
    ("100,000 kernels", setting("n_kerns", [100_000, 100_000]), "n_kerns must be two integers in [1, 1024]"),
    ("augment factor a million", setting("augment.factor", 1_000_000), "augment.factor must be an integer in [1, 100]"),
    ("bootstrap 10**12", setting("compare.bootstrap", 10**12), "compare.bootstrap must be an integer in [100, 100000]"),
    ("input size 100,000", setting("train.input_size", 100_000), "train.input_size must be an integer in [1, 512]"),
    ("face crops of a million px", setting("faces.size", 1_000_000), "faces.size must be an integer in [16, 1024]"),
    ("an infinite learning rate", setting("lr", float("inf")), "lr must be a number > 0, got inf"),
    ("a NaN margin", setting("faces.margin", float("nan")), "faces.margin must be a number in [0, 1], got nan"),
    ("a grid of 51 C values", setting("svm.C", [float(c) for c in range(1, 52)]), "svm.C must be a list of 1 to 50"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in BOUND_CASES], ids=[c[0] for c in BOUND_CASES])
def test_parameter_out_of_bounds(tmp_path, make, message):
    expect_error(check(make(tmp_path)), message)


def test_augment_checks_the_memory_it_needs_first(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)  # less than 12 x 40 x 48 x 48 bytes
    faces = tmp_path / "faces"
    faces.mkdir()
    for split in ("train", "val", "test"):
        save_split(faces / f"{split}.npz", np.zeros((40, 48, 48), np.uint8), np.arange(40) % 2, np.arange(40), ["a", "b"])
    outputs = [tmp_path / "augmented", tmp_path / "augment.json", tmp_path / "augment.png"]
    expect_error(stage_result("augment", "--params", setting("augment.factor", 12)(tmp_path), "--faces", faces,
                              "--out", outputs[0], "--metrics", outputs[1], "--plot", outputs[2]),
                 "params.yaml: augment.factor 12 x 40 training images needs 1.1 MiB of memory, and 1.0 MiB is available",
                 outputs)


def test_the_first_stage_checks_the_whole_file_for_a_plain_dvc_repro(tmp_path):
    """A typo no stage declares fails `check_params`, which `fetch` depends on; valid files of different
    values give the same output, so that the stages after it do not rerun for it."""
    out = tmp_path / "params_checked.txt"
    expect_error(stage_result("check_params", "--params", text(PARAMS + "lrr: 0.1\n")(tmp_path), "--out", out),
                 "params.yaml: unknown parameter lrr (did you mean lr?)", [out])
    outputs = []
    for lr in (0.01, 0.02):
        assert stage_result("check_params", "--params", setting("lr", lr)(tmp_path), "--out", out)[0] == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert "params.yaml" in stages["check_params"]["deps"] and str(out.name) in " ".join(stages["fetch"]["deps"])
