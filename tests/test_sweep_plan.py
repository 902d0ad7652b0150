"""`python -m ferpipe sweep`: the grids of sweeps.yaml, -S overrides as DVC applies them, and every bad
value refused before anything is queued (no DVC run here)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml
from support.stage_imports import REPO

from ferpipe.core.errors import FerpipeError
from ferpipe.experiments.overrides import apply_overrides, override
from ferpipe.experiments.queue import preflight
from ferpipe.experiments.plan import plan
from ferpipe.experiments.sweeps import experiment_names, load_sweeps, sweep_of
from ferpipe.registry import check_stage_params

SWEEPS = load_sweeps(REPO / "sweeps.yaml")


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_the_sweeps_file_holds_the_paper_grids_on_its_lenet():
    assert (SWEEPS["table4"].param, SWEEPS["table4"].values) == ("lr", [0.1, 0.01, 0.05])
    assert (SWEEPS["table5"].param, SWEEPS["table5"].values) == ("n_kerns", [[20, 50], [10, 30], [5, 10]])
    assert (SWEEPS["batch"].param, SWEEPS["batch"].values) == ("batch_size", [1, 2, 5, 10, 20, 56])
    assert (SWEEPS["kfold"].param, SWEEPS["kfold"].values) == ("fetch.fold", None)
    assert (SWEEPS["traditional"].param, SWEEPS["traditional"].values) == ("embed.features", ["network", "lbp", "hog"])
    for name in ("table4", "table5", "batch", "kfold", "traditional"):
        assert SWEEPS[name].fixed["arch"] == "lenet" and SWEEPS[name].param not in SWEEPS[name].fixed
    # CK+'s two splits for the network params.yaml gives (the demo's ResNet-50)
    assert (SWEEPS["protocols"].param, SWEEPS["protocols"].values, SWEEPS["protocols"].fixed) == (
        "fetch.ckplus_protocol", ["paper", "subject"], {})


@pytest.mark.parametrize("value", [0.1, 0.0005, 56, [20, 50], None, True, "/data/fer 2013", "null", "a'b"])
def test_override_text_reads_back_as_the_value(value):
    assert apply_overrides(REPO / "params.yaml", [override("lr", value)])["lr"] == value


@pytest.mark.parametrize("content, message", [
    (None, "params file not found: {path}"),
    ("lr: 0.1 # é\n".encode("latin-1"), "{path}: not UTF-8 text"),
])
def test_a_missing_or_unreadable_params_file_is_one_error(tmp_path, content, message):
    path = tmp_path / "params.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FerpipeError, match=re.escape(message.format(path=path))):
        apply_overrides(path, [override("lr", 0.1)])


def test_a_plan_is_the_sweeps_set_then_the_typed_overrides_then_the_value(in_repo):
    points = plan(SWEEPS["table4"], ["epochs=1", "train.steps_per_epoch=2"], check_stage_params)
    assert [p[-1] for p in points] == ["lr=0.1", "lr=0.01", "lr=0.05"]
    for overrides in points:
        params = apply_overrides("params.yaml", overrides)
        assert params["arch"] == "lenet" and params["epochs"] == 1 and params["train"]["steps_per_epoch"] == 2
        assert "epochs=50" not in overrides  # a typed override replaces the sweep's own


TINY_DEMO = ["fetch.demo.per_class=5", "fetch.demo.size=32"]  # k-fold plans load the dataset: keep it small


def test_a_kfold_plan_runs_every_fold_of_the_typed_k(in_repo):
    points = plan(SWEEPS["kfold"], ["fetch.folds=3", *TINY_DEMO], check_stage_params)
    assert [p[-1] for p in points] == ["fetch.fold=0", "fetch.fold=1", "fetch.fold=2"]


@pytest.mark.parametrize("sweep, extra, message", [
    ("table5", ["lr=abc"], "lr must be a number > 0, got 'abc'"),
    ("table4", ["lr=0.2"], "lr is what sweep table4 varies"),
    ("table5", ["lr=0.1,0.2"], "a sweep takes single values"),
    ("table4", ["lrr=0.1"], "-S lrr=0.1: unknown parameter lrr (did you mean lr?)"),
    ("table4", ["epochs"], "expected key=value"),
    ("table4", ["fetch.fold=3"], "fetch.fold = 3 needs k-fold"),
    ("table4", ["fetch.folds=3", "fetch.fold=3"], "fetch.fold must be in 0..2"),
    ("kfold", ["fetch.folds=1"], "fetch.folds must be k >= 2"),
    ("kfold", ["dataset=fer2013"], "fer2013 has an official split"),
    ("kfold", ["fetch.folds=50", *TINY_DEMO], "fetch.folds = 50 is more than the "),
    ("table4", ["generalize.folds=1"], "generalize.folds must be an integer in [2, 100], got 1"),
    ("table4", ["generalize.C=-1"], "generalize.C must be a number > 0, got -1"),
    ("table4", ["sources=/data/fer"], "sources must be a mapping of fer2013, ckplus, genki4k, got '/data/fer'"),
    ("table4", ["dataset=ckplus", "sources.ckplus=/no/such/ckplus"], "sources.ckplus: /no/such/ckplus does not exist"),
    ("table4", ["generalize.target=genki4k", "sources.genki4k=/no/such/genki"],
     "sources.genki4k: /no/such/genki does not exist"),
])
def test_bad_values_are_refused_before_queueing(in_repo, monkeypatch, sweep, extra, message):
    for dataset in ("FER2013", "CKPLUS", "GENKI4K"):
        monkeypatch.delenv(f"FERPIPE_SOURCE_{dataset}", raising=False)
    with pytest.raises(FerpipeError, match=re.escape(message)) as err:
        plan(SWEEPS[sweep], extra, check_stage_params)
    assert "\n" not in str(err.value)


def test_experiment_names_lead_back_to_their_sweep():
    names = experiment_names("table4", 2, stamp="20260101T000000")
    assert names == ["table4-20260101T000000-1", "table4-20260101T000000-2"]
    assert [sweep_of(n) for n in names + ["exp-1a2b3", None]] == ["table4", "table4", None, None]


@pytest.mark.parametrize("doc, message", [
    ({"sweeps": {"Table-4": {"vary": {"lr": [0.1]}}}}, "a sweep name is lowercase"),
    ({"sweeps": {"t": {"vary": {"lr": [0.1], "epochs": [1]}}}}, "exactly one parameter"),
    ({"sweeps": {"t": {"vary": {"lr": "all"}}}}, "is for fetch.fold only"),
    ({"sweeps": {"t": {"set": {"arch": "lenet"}}}}, "expected `set:`"),
    ({"grids": {}}, "expected a `sweeps:` mapping"),
])
def test_a_bad_sweeps_file_is_one_clear_error(tmp_path, doc, message):
    path = tmp_path / "sweeps.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(FerpipeError, match=message):
        load_sweeps(path)


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_preflight_wants_a_commit_an_identity_and_committed_params(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no global git identity
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    _git(tmp_path, "init", "-q")
    (tmp_path / "params.yaml").write_text("lr: 0.05\n")
    with pytest.raises(FerpipeError, match="needs a git commit"):
        preflight()
    _git(tmp_path, "add", "params.yaml")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "x")
    with pytest.raises(FerpipeError, match="needs a git identity"):
        preflight()
    _git(tmp_path, "config", "user.name", "t")
    _git(tmp_path, "config", "user.email", "t@t.invalid")
    assert len(preflight()) == 40
    (tmp_path / "params.yaml").write_text("lr: 0.01\n")
    with pytest.raises(FerpipeError, match="params.yaml differs from the last commit"):
        preflight()


def test_preflight_refuses_any_changed_input_an_experiment_would_carry_but_not_results_or_records(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("lr: 0.05\n")
    (tmp_path / "paper.yaml").write_text("table4: []\n")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": {
        "cmd": "true", "outs": ["data/model", {"plots/train": {"cache": False}}],
        "metrics": [{"metrics/train.json": {"cache": False}}]}}}))
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "train.json").write_text("{}")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.name", "t")
    _git(tmp_path, "config", "user.email", "t@t.invalid")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "x")
    (tmp_path / "results" / "run").mkdir(parents=True)
    (tmp_path / "results" / "run" / "sweep_log.txt").write_text("")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "a results folder")
    (tmp_path / "metrics" / "train.json").write_text('{"accuracy": 1}')
    (tmp_path / "results" / "run" / "sweep_log.txt").write_text("lr on ckplus: 4 row(s)\n")  # its run.sh, mid-way
    assert len(preflight()) == 40
    (tmp_path / "paper.yaml").write_text("table4: [1]\n")
    with pytest.raises(FerpipeError, match=r"^paper.yaml: changed since the last commit"):
        preflight()


def test_the_command_fails_with_one_error_line_and_queues_nothing(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "ferpipe", "sweep", "table5", "-S", "lr=abc"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: ") and "lr must be a number > 0, got 'abc'" in proc.stderr
