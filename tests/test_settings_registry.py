"""The settings registry: dvc.yaml declares exactly the params each stage reads, params.yaml holds no
unknown key and no wrong type anywhere (one error line, a hint for near misses), every stage exits 1
with one `error:` line on a bad value, and docs/parameters.md is what the models generate."""
from __future__ import annotations

import copy
import re

import pytest
import yaml
from support.stage_imports import REPO
from support.stage_runs import expect_error, stage_result

from ferpipe.commands.params import main as params_main
from ferpipe.core.errors import FerpipeError
from ferpipe.core.params import load_params
from ferpipe.registry import STAGES, all_models, check_all, stage_params
from ferpipe.report.parameters import parameters_markdown

DVC_STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
PARAMS = load_params(REPO / "params.yaml")


def test_every_stage_of_dvc_yaml_is_in_the_registry():
    assert sorted(DVC_STAGES) == sorted(STAGES)


@pytest.mark.parametrize("stage", sorted(DVC_STAGES))
def test_dvc_yaml_declares_exactly_the_params_the_stage_reads(stage):
    assert [str(p) for p in DVC_STAGES[stage].get("params", [])] == stage_params(stage)


def test_the_committed_params_pass(capsys):
    check_all(PARAMS, "params.yaml")
    params_main(["check", "--params", str(REPO / "params.yaml")])
    assert "every parameter checked" in capsys.readouterr().out


def test_the_parameter_reference_is_up_to_date():
    committed = (REPO / "docs" / "parameters.md").read_text()
    assert committed == parameters_markdown(PARAMS, all_models()), \
        "docs/parameters.md is stale: regenerate it with `python -m ferpipe params doc`"


def _set(params: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(params)
    *parents, leaf = dotted.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[leaf] = value
    return out


@pytest.mark.parametrize("key, value, message", [
    ("lrr", 0.1, "unknown parameter lrr (did you mean lr?)"),
    ("augment.fator", 3, "unknown parameter augment.fator (did you mean augment.factor?)"),
    ("fetch.sha256.fer2031", None, "unknown parameter fetch.sha256.fer2031 (did you mean fetch.sha256.fer2013?)"),
    ("fetch.demo.sise", 32, "unknown parameter fetch.demo.sise (did you mean fetch.demo.size?)"),
    ("runtime.faces.worker", 2, "unknown parameter runtime.faces.worker (did you mean runtime.faces.workers?)"),
    ("runtime.gpu", 1, "unknown parameter runtime.gpu"),
    ("generalize.C", -1, "generalize.C must be a number > 0, got -1"),
    ("generalize.folds", 1, "generalize.folds must be an integer in [2, 100], got 1"),
    ("fetch.sha256.fer2013", 5, "fetch.sha256.fer2013 must be null or 64 hex digits, got 5"),
    ("fetch.sha256.fer2013", "abc", "fetch.sha256.fer2013 must be null or 64 hex digits, got 'abc'"),
    ("sources", "/data/fer", "sources must be a mapping of fer2013, ckplus, genki4k, got '/data/fer'"),
    ("sources.ckplus", 3, "sources.ckplus must be null, an http(s) URL, kaggle:<owner>/<dataset> or a local path, got 3"),
    ("lr", True, "lr must be a number > 0, got True"),
    ("batch_size", "32", "batch_size must be an integer >= 1, got '32'"),
    ("train.nesterov", 1, "train.nesterov must be true or false, got 1"),
    ("svm.class_weight", "equal", "svm.class_weight must be null or balanced, got 'equal'"),
    ("embed.features", "sift", "embed.features must be one of network, lbp, hog, got 'sift'"),
    ("embed.lbp.radius", 0, "embed.lbp.radius must be a number in (0, 8], got 0"),
    ("embed.hog.pixels_per_cell", 1.5, "embed.hog.pixels_per_cell must be an integer in [2, 64], got 1.5"),
])
def test_a_bad_key_anywhere_is_one_line_naming_it(key, value, message):
    with pytest.raises(FerpipeError) as err:
        check_all(_set(PARAMS, key, value), "my.yaml")
    assert str(err.value) == f"my.yaml: {message}"


def test_a_missing_key_is_an_error_not_a_default():
    params = copy.deepcopy(PARAMS)
    del params["compare"]["seed"]
    with pytest.raises(FerpipeError, match=r"^params\.yaml: missing parameter compare\.seed$"):
        check_all(params)


@pytest.mark.parametrize("stage, key, value, message", [
    ("fetch", "fetch.sha256.fer2031", None, "unknown parameter fetch.sha256.fer2031 (did you mean"),
    ("faces", "faces.pad_mode", "wrap", "faces.pad_mode must be one of replicate, constant, reflect, got 'wrap'"),
    ("augment", "augment.flip", 2, "augment.flip must be a number in [0, 1], got 2"),
    ("train", "epochs", 0, "epochs must be an integer in [1, 10000], got 0"),
    ("evaluate_softmax", "backend", "jax", "backend must be one of tensorflow, torch, got 'jax'"),
    ("embed", "embed.seed", -1, "embed.seed must be an integer in [0, 4294967295], got -1"),
    ("embed", "embed.lbp.points", 30, "embed.lbp.points must be an integer in [4, 24], got 30"),
    ("svm", "svm.C", [1, 1], "svm.C must be a list without repeated values"),
    ("compare", "compare.bootstrap", 10, "compare.bootstrap must be an integer in [100, 100000], got 10"),
    ("generalize", "generalize.folds", 1, "generalize.folds must be an integer in [2, 100], got 1"),
    ("generalize", "fetch.sha256.genki4k", "x", "fetch.sha256.genki4k must be null or 64 hex digits, got 'x'"),
    ("report", "train", {"input_size": 32}, "missing parameter train.steps_per_epoch"),
])
def test_each_stage_exits_1_with_one_error_line_on_a_bad_value(tmp_path, stage, key, value, message):
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(_set(PARAMS, key, value)))
    argv = ["--params", str(params_file)]
    outs = {"fetch": ["--out", "--metrics"], "faces": ["--out", "--metrics", "--plot"],
            "augment": ["--out", "--metrics", "--plot"], "train": ["--model", "--live", "--metrics", "--checkpoints"],
            "evaluate_softmax": ["--metrics", "--confusion", "--predictions"], "embed": ["--out", "--plot"],
            "svm": ["--model", "--metrics", "--grid", "--confusion", "--predictions"], "compare": ["--metrics", "--plot"],
            "generalize": ["--metrics", "--plot"], "report": ["--out"]}[stage]
    for i, option in enumerate(outs):
        argv += [option, str(tmp_path / "out" / f"{i}")]
    line = expect_error(stage_result(stage, *argv), message)
    assert line.startswith(f"error: {params_file}: {message}"), line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

