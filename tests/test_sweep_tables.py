"""Sweep tables from `dvc exp show --json`, on the output of a real run (tests/data/exp_show_sweeps.json:
tiny LeNet sweeps on the demo and on a generated GENKI-4K, one sweep failing in the queue, a 2-fold
k-fold; file paths and per-class metrics trimmed)."""
from __future__ import annotations

import copy
import dataclasses
import json
import statistics
from pathlib import Path, PurePosixPath

import pytest
from support.stage_imports import REPO
from support.stage_runs import expect_error, result_of

from ferpipe.commands.tables import main as tables_main
from ferpipe.core.errors import FerpipeError
from ferpipe.experiments.results import ExpShow, parse_exp_show
from ferpipe.experiments.sweeps import load_sweeps
from ferpipe.report.inputs import read_tables
from ferpipe.report.paper import load_paper
from ferpipe.report.render import settings_text, table_markdown, table_notes
from ferpipe.report.tables import sweep_tables
from ferpipe.report.tables_folder import find_experiment, summary, write_tables

DOC = json.loads((Path(__file__).parent / "data" / "exp_show_sweeps.json").read_text())
SWEEPS = load_sweeps(REPO / "sweeps.yaml")
PAPER = load_paper(REPO / "paper.yaml")


def experiments_of(doc: list) -> dict[str, dict]:
    """name -> the experiment's data, as DVC printed it."""
    return {e["name"]: e["revs"][0]["data"] for commit in doc for e in commit.get("experiments") or []}


def table(tables, sweep, dataset):
    found = [t for t in tables if t.sweep == sweep and t.dataset == dataset]
    assert len(found) == 1, [(t.sweep, t.dataset) for t in tables]
    return found[0]


def test_each_row_holds_its_experiments_params_and_metrics():
    tables = sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)
    demo = table(tables, "table4", "demo")
    raw = experiments_of(DOC)
    assert [r["value"] for r in demo.rows] == [0.1, 0.01, 0.05]  # sweeps.yaml's order
    for row in demo.rows:
        data = raw[row["experiment"]]
        params = data["params"]["params.yaml"]["data"]
        metrics = {path: v["data"] for path, v in data["metrics"].items()}
        assert (row["lr"], row["n_kerns"], row["batch_size"], row["pool_size"]) == (
            params["lr"], params["n_kerns"], params["batch_size"], params["pool_size"])
        assert row["test_error"] == pytest.approx(100 * (1 - metrics["metrics/softmax.json"]["accuracy"]))
        assert row["val_error"] == pytest.approx(100 * (1 - metrics["metrics/train.json"]["best_val_accuracy"]))
        assert row["best_epoch"] == metrics["metrics/train.json"]["best_epoch"]
        assert row["svm_test_error"] == pytest.approx(100 * (1 - metrics["metrics/svm.json"]["accuracy"]))
        assert row["mcnemar_p"] == metrics["metrics/compare.json"]["mcnemar_p_value"]
        assert row["test_images"] == metrics["metrics/softmax.json"]["n"]
    assert [r["paper"] for r in demo.rows] == [{"test_error": 82.4}, {"test_error": 5.0}, {"test_error": 2.5}]


def test_an_experiment_on_another_dataset_is_in_a_table_of_its_own():
    tables = sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)
    demo, genki = table(tables, "table4", "demo"), table(tables, "table4", "genki4k")
    raw = experiments_of(DOC)
    on = {name: data["params"]["params.yaml"]["data"]["dataset"] for name, data in raw.items()}
    assert {on[r["experiment"]] for r in demo.rows} == {"demo"} and len(demo.rows) == 3
    assert {on[r["experiment"]] for r in genki.rows} == {"genki4k"} and len(genki.rows) == 3
    assert genki.settings["dataset"] == "genki4k" and genki.settings["sources.genki4k"]
    assert "sources.genki4k" not in demo.settings and demo.settings["arch"] == "lenet"


def test_failed_experiments_are_named_not_shown_and_other_experiments_are_ignored():
    tables = sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)
    failed = table(tables, "table5", "genki4k")
    assert failed.rows == [] and len(failed.failed) == 3
    shown = {r["experiment"] for t in tables for r in t.rows} | {n for t in tables for n in t.failed}
    assert shown == set(experiments_of(DOC))  # every experiment of the file is a sweep's


def test_a_newer_run_of_a_value_replaces_an_older_one_which_is_named():
    doc = copy.deepcopy(DOC)
    commit = next(c for c in doc if c.get("experiments"))
    old = next(e for e in commit["experiments"] if e["name"] == "table4-20261129T210700-1")
    newer = copy.deepcopy(old)
    newer["name"] = "table4-20261130T000000-1"
    newer["revs"][0]["data"]["timestamp"] = "2026-11-30T00:00:00"
    commit["experiments"].append(newer)
    demo = table(sweep_tables(parse_exp_show(doc), SWEEPS, PAPER), "table4", "demo")
    assert [r["experiment"] for r in demo.rows if r["value"] == 0.1] == ["table4-20261130T000000-1"]
    assert demo.superseded == ["table4-20261129T210700-1"]


def test_kfold_mean_and_sd_over_the_folds():
    tables = sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)
    kfold = table(tables, "kfold", "demo")
    compares = [experiments_of(DOC)[r["experiment"]]["metrics"]["metrics/compare.json"]["data"] for r in kfold.rows]
    assert sorted(r["value"] for r in kfold.rows) == [0, 1] and kfold.aggregate["k"] == 2
    for key, metric in (("softmax_accuracy", "softmax_accuracy"), ("svm_accuracy", "svm_accuracy"),
                        ("svm_minus_softmax", "accuracy_difference")):
        values = [100 * c[metric] for c in compares]
        assert kfold.aggregate[key]["mean"] == pytest.approx(statistics.mean(values))
        assert kfold.aggregate[key]["sd"] == pytest.approx(statistics.stdev(values))
    assert kfold.aggregate["test_images"] == sum(c["n"] for c in compares)
    lines = summary(tables, Path("sweeps"), kfold_of="kfold").splitlines()
    assert "tables: sweeps/TABLES.md" in lines
    kfold_line = f"SVM − softmax {kfold.aggregate['svm_minus_softmax']['mean']:+.1f}"
    assert any(line.startswith("kfold on demo, 2 of 2 folds") and kfold_line in line for line in lines)
    assert not [line for line in summary(tables, Path("sweeps")).splitlines() if "folds" in line]


def test_the_tables_files_hold_every_table_and_read_back(tmp_path):
    out = tmp_path / "sweeps"
    tables = write_tables(out, parse_exp_show(DOC), SWEEPS, REPO / "paper.yaml")
    markdown = (out / "TABLES.md").read_text()
    assert "| experiment | n-kerns | batch size | pool size | lr | test error % | val error % | best epoch |" in markdown
    assert markdown.count("## table4: lr on") == 2 and "## table4: lr on genki4k" in markdown
    assert "**mean ± sd, 2 of 2 folds**" in markdown
    assert [t.as_dict() for t in read_tables(out / "tables.json")] == [t.as_dict() for t in tables]
    assert sorted(p.name for p in out.glob("*.png")) == ["kfold-1.png", "table4-1.png", "table4-2.png"]


def test_no_sweep_experiment_is_one_error_and_writes_nothing(tmp_path):
    with pytest.raises(FerpipeError, match="lists no experiment of the sweeps"):
        write_tables(tmp_path / "sweeps", ExpShow([], {}), SWEEPS, REPO / "paper.yaml")
    assert not (tmp_path / "sweeps").exists()


def test_find_names_the_newest_experiment_with_the_parameters_asked(tmp_path, capsys):
    out = tmp_path / "sweeps"
    tables = write_tables(out, parse_exp_show(DOC), SWEEPS, REPO / "paper.yaml")
    demo = table(tables, "table4", "demo")
    wanted = next(r for r in demo.rows if r["value"] == 0.05)["experiment"]
    assert find_experiment(tables, "table4", {"dataset": "demo", "lr": 0.05}) == wanted
    tables_main(["--out", str(out), "--find", "table4", "dataset=demo", "lr=0.05", "train.schedule=constant"])
    assert capsys.readouterr().out.strip() == wanted
    assert find_experiment(tables, "table4", {"lr": 0.05}) != wanted  # genki4k's table comes later
    code, stderr = result_of(tables_main, "--out", str(out), "--find", "table4", "dataset=demo", "lr=0.5")
    expect_error((code, stderr), "the tables list no experiment of sweep table4 with dataset=demo, lr=0.5")


def test_a_setting_of_null_reads_as_typed():
    tables = sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)
    demo = copy.deepcopy(table(tables, "table4", "demo"))
    demo.settings["train.steps_per_epoch"] = None
    assert "`train.steps_per_epoch=null`" in settings_text(demo)


def test_a_table_shows_the_swept_parameter_and_only_the_networks_own_settings():
    """A sweep of a setting outside the paper's columns (the split) on the ResNet-50: a column of the split,
    and no LeNet n-kerns or pool size on ResNet-50 rows."""
    tables = sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)
    lenet = table(tables, "table4", "demo")
    resnet = dataclasses.replace(lenet, sweep="protocols", param="fetch.ckplus_protocol", arch="resnet50",
                                 rows=[{**row, "value": split} for row, split in zip(lenet.rows, ("paper", "subject"))])
    header, _, *rows = table_markdown(resnet).splitlines()
    assert header.startswith("| experiment | fetch.ckplus_protocol | batch size | lr | test error % | val error % |")
    assert [row.split(" | ")[1] for row in rows] == ["paper", "subject"]
    assert table_markdown(lenet).splitlines()[0].startswith("| experiment | n-kerns | batch size | pool size | lr |")


def _record_params(stage: dict, params: dict) -> None:
    for key in (stage.get("params") or {}).get("params.yaml", {}):
        node = params
        for part in key.split("."):
            node = node[part]
        stage["params"]["params.yaml"][key] = node


def _baseline_lock() -> dict:
    """The committed dvc.lock as a run of params.yaml records it (the committed one may predate a new parameter)."""
    from ferpipe.core.params import load_params, read_yaml

    lock = read_yaml(REPO / "dvc.lock", "dvc.lock")
    for stage in lock["stages"].values():
        _record_params(stage, load_params(REPO / "params.yaml"))
    return lock


def _lock_after(baseline: dict, params: dict, ran: list[str]) -> dict:
    """dvc.lock of an experiment of `params` from `baseline`'s lock that ran the stages `ran` (each records
    the experiment's params and new output hashes; a rerun's deps record what its producers now write)."""
    lock = copy.deepcopy(baseline)
    stages = lock["stages"]
    new_outs = {}
    for name in ran:
        stage = stages[name]
        _record_params(stage, params)
        for dep in stage.get("deps", []):
            for out, digest in new_outs.items():
                if dep["path"] == out or dep["path"].startswith(out + "/"):
                    dep["md5"] = digest if dep["path"] == out else "f" * 32
        for out in stage.get("outs", []):
            out["md5"] = f"{name:0<8.8}" + "0" * 24
            new_outs[out["path"]] = out["md5"]
    return lock


def _exp_params(**changes) -> dict:
    from ferpipe.core.params import load_params

    params = load_params(REPO / "params.yaml")
    params.update(changes)
    return params


BEFORE_TRAIN = ["check_params", "fetch", "faces", "augment"]
AFTER_TRAIN = ["evaluate_softmax", "embed", "svm", "compare"]


@pytest.mark.parametrize("ran, computed", [
    (BEFORE_TRAIN, {"data", "faces", "augment"}),                   # --until augment: train kept the parent's lr
    (BEFORE_TRAIN + ["train"], {"data", "faces", "augment", "train"}),  # --until train: the heads are the parent's
    (BEFORE_TRAIN + ["train"] + AFTER_TRAIN, {"data", "faces", "augment", "train", "softmax", "svm", "compare"}),
])
def test_only_the_metrics_of_stages_an_experiment_ran_are_current(ran, computed):
    from ferpipe.experiments.computed import stale_stages, uncomputed_metrics

    baseline = _baseline_lock()
    params = _exp_params(lr=0.5)
    # augment, faces and fetch rerun with their params unchanged write the same bytes: no new hashes
    lock = _lock_after(baseline, params, [s for s in ran if s not in BEFORE_TRAIN])
    metrics = {p for stage in baseline["stages"].values() for o in stage.get("outs", [])
               if (p := o["path"]).startswith("metrics/")}
    stale = {PurePosixPath(p).stem for p in uncomputed_metrics(lock, params, baseline) & metrics}
    assert {PurePosixPath(p).stem for p in metrics} - stale == computed
    assert not stale_stages(baseline, _exp_params(), baseline)  # the committed run is current


def test_a_row_never_shows_a_figure_its_experiment_did_not_compute():
    """A sweep run `--until augment`: its experiments hold the parent commit's metrics files, which the table
    leaves out and names, instead of showing the parent's test error as theirs; run to the end, all is shown."""
    params_of = {e["revs"][0]["rev"]: e["revs"][0]["data"]["params"]["params.yaml"]["data"]
                 for commit in DOC for e in commit.get("experiments") or []}

    def lock_of(rev: str, trained: bool) -> dict:
        lock = copy.deepcopy(_baseline_lock())
        params = params_of.get(rev, {})
        for stage in lock["stages"].values():
            recorded = stage.get("params", {}).get("params.yaml", {})
            for key in list(recorded):
                recorded[key] = params.get(key, recorded[key]) if "." not in key else recorded[key]
        if not trained:
            lock["stages"]["train"]["params"]["params.yaml"]["lr"] = params.get("lr", 0) + 1
        return lock

    def values(locks):
        return table(sweep_tables(parse_exp_show(DOC, locks), SWEEPS, PAPER), "table4", "demo")

    ran = values(lambda rev: lock_of(rev, trained=True) if rev in params_of else None)
    assert all(row["test_error"] is not None and row["not_computed"] == [] for row in ran.rows)
    assert not any(note.startswith("Not computed") for note in table_notes(ran))
    demo = values(lambda rev: lock_of(rev, trained=False) if rev in params_of else None)
    assert demo.rows and all(row["test_error"] is None and row["svm_test_error"] is None and row["mcnemar_p"] is None
                             and row["best_epoch"] is None for row in demo.rows)
    assert all(row["not_computed"] == ["compare", "softmax", "svm", "train"] for row in demo.rows)
    assert table_markdown(demo).count("| — | — | — |") == len(demo.rows)  # test error, val error, best epoch
    assert any(note.startswith("Not computed by their experiment") for note in table_notes(demo))


def test_without_its_dvc_lock_no_figure_of_an_experiment_is_shown():
    tables = sweep_tables(parse_exp_show(DOC, lambda rev: None), SWEEPS, PAPER)
    assert all(row["test_error"] is None and row["not_computed"] for t in tables for row in t.rows)


GONE = ("`dvc exp show --json ...` failed: ERROR: failed to show experiments - directory "
        "'/repo/.dvc/tmp/exps/tmpbbempvs3/.dvc' does not exist")


@pytest.mark.parametrize("failures, error, reads, answered", [
    (2, GONE, 3, True),  # an experiment's temporary copy removed while DVC read it: read again
    (9, GONE, 5, False),  # every read fails: after SHOW_TRIES, the error
    (1, "`dvc exp show --json ...` failed: ERROR: unexpected error", 1, False),  # any other failure: at once
])
def test_exp_show_reads_again_only_when_a_finished_experiment_s_copy_went(monkeypatch, failures, error, reads,
                                                                          answered):
    from ferpipe.experiments import results

    calls = []

    def run_dvc(*args):
        calls.append(args)
        if len(calls) <= failures:
            raise FerpipeError(error)
        return "[]"

    monkeypatch.setattr(results, "run_dvc", run_dvc)
    monkeypatch.setattr(results.time, "sleep", lambda seconds: None)
    if answered:
        assert results.exp_show(["abc"]) == []
    else:
        with pytest.raises(FerpipeError, match="failed"):
            results.exp_show(["abc"])
    assert len(calls) == reads and calls[0] == ("exp", "show", "--json", "--rev", "abc")
