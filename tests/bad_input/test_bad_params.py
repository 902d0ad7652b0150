"""Bad params files: `params check` and a stage, in-process, give one `error:` line naming the file or the
parameter, exit 1, and write nothing; special files are refused at once, not waited on or read for ever."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from support.stage_runs import expect_error, result_of, stage_result

from ferpipe.commands import params as params_command
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
    # values that YAML 1.2 (DVC) and YAML 1.1 (PyYAML) read differently: what DVC records must be what ran
    ("a leading zero", text(PARAMS.replace("\nbatch_size: 32", "\nbatch_size: 010")),
     "params.yaml: batch_size: DVC (YAML 1.2) reads 10 but YAML 1.1 readers 8; write 10 or 8"),
    ("yes for true", text(PARAMS.replace("  align: false", "  align: yes")),
     "params.yaml: faces.align: DVC (YAML 1.2) reads 'yes' but YAML 1.1 readers True"),
    ("a sexagesimal", text(PARAMS.replace("\nbatch_size: 32", "\nbatch_size: 1:30")), "batch_size: DVC (YAML 1.2) reads '1:30'"),
    ("an exponent without a point", text(PARAMS.replace("lr: 0.02", "lr: 2e-2")),
     "lr: DVC (YAML 1.2) reads 0.02 but YAML 1.1 readers '2e-2'"),
    ("an octal 0o", text(PARAMS.replace("\nbatch_size: 32", "\nbatch_size: 0o40")), "batch_size: DVC (YAML 1.2) reads 32"),
    ("a key of No", text(PARAMS + "No: 1\n"), "No (the key itself): DVC (YAML 1.2) reads 'No' but YAML 1.1 readers False"),
    # what only YAML can say and a parameter never is
    ("a complex key", text(PARAMS + "? [a, b]\n: 1\n"), "a key that is a list or mapping"),
    ("a mapping as a key", text(PARAMS + "? {a: 1}\n: 1\n"), "params.yaml: not valid YAML (line"),
    ("an ordered map", text(PARAMS.replace("compare:\n  bootstrap: 10000\n  seed: 0\n", "compare: !!omap [{bootstrap: 10000}, {seed: 0}]\n")), "compare: an ordered map (!!omap)"),
    ("a set", text(PARAMS.replace("lr: 0.02", "lr: !!set {0.02}")), "lr: a set (!!set)"),
    ("a date", text(PARAMS.replace("lr: 0.02", "lr: 2026-12-07")), "lr: a date where only plain values are read"),
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


@pytest.mark.parametrize("value", ["x" * 5_000_000, list(range(20_000))], ids=["5 MB string", "20,000 items"])
def test_a_huge_value_is_not_echoed_whole(tmp_path, value):
    line = expect_error(check(setting("lr", value)(tmp_path)), "params.yaml: lr must be a number > 0, got ")
    assert len(line) < 300


@pytest.mark.parametrize("override, message", [
    ("faces.align=yes", "faces.align: DVC (YAML 1.2) reads 'yes' but YAML 1.1 readers True"),
    ("dataset=on", "dataset: DVC (YAML 1.2) reads 'on' but YAML 1.1 readers True"),
    ("train.seed=1:30", "train.seed: DVC (YAML 1.2) reads '1:30' but YAML 1.1 readers 90"),
])
def test_an_override_dvc_would_write_ambiguously_is_refused_naming_it(override, message):
    from ferpipe.core.errors import FerpipeError
    from ferpipe.experiments.overrides import apply_overrides

    with pytest.raises(FerpipeError, match=f"with -S {re.escape(override)}: {re.escape(message)}"):
        apply_overrides(REPO / "params.yaml", [override])


def test_the_project_reads_yaml_as_dvc_does(tmp_path):
    """ferpipe and DVC read one params file alike (a value both dialects read alike passes through)."""
    from dvc.utils.serialize import load_yaml

    from ferpipe.core.params import load_params

    path = text(PARAMS.replace("lr: 0.02", "lr: 1.0e-2"))(tmp_path)
    assert load_params(path) == load_yaml(path) and load_params(path)["lr"] == 0.01


@pytest.mark.parametrize("override, message", [
    ("lrr=0.1", "-S lrr=0.1: unknown parameter lrr (did you mean lr?)"),
    ("train.inptu_size=32", "unknown parameter train.inptu_size (did you mean train.input_size?)"),
    ("faces.size.side=3", "-S faces.size.side=3: faces.size is a value, not a block"),
])
def test_a_mistyped_override_gets_the_registry_s_hint_not_hydra_s(override, message):
    from ferpipe.core.errors import FerpipeError
    from ferpipe.experiments.overrides import apply_overrides

    with pytest.raises(FerpipeError) as err:
        apply_overrides(REPO / "params.yaml", [override])
    assert message in str(err.value) and "+" not in str(err.value)


def test_a_params_file_changed_while_a_stage_runs_leaves_no_outputs(tmp_path, monkeypatch):
    """`dvc exp run -S lr=0.03` beside a running `dvc repro` rewrites params.yaml mid-stage; were the outputs
    kept, DVC would record them with values the stage never used: so the stage fails, and DVC records nothing."""
    import sys

    from support.stage_runs import stage_main

    path = text(PARAMS)(tmp_path)
    main = stage_main("check_params")
    module = sys.modules[main.__module__]
    checked = module.check_all

    def check_then_edit(params, params_file):
        checked(params, params_file)
        path.write_text(PARAMS.replace("lr: 0.02", "lr: 0.03"))  # the other command's edit

    monkeypatch.setattr(module, "check_all", check_then_edit)
    out = tmp_path / "params_checked.txt"
    expect_error(stage_result("check_params", "--params", path, "--out", out),
                 "params.yaml: changed while this command ran", [out])
