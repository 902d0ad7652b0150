"""The `report` stage: REPORT.md from metrics, the sweep tables and paper.yaml, every number traceable to
them; the verdict rules; bad input. Metrics and params are those of a real tiny demo experiment
(tests/data/exp_show_sweeps.json)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.report_numbers import allowed_numbers, table_rows, untraced_numbers
from support.stage_imports import REPO

from ferpipe.core.outputs import record_written
from ferpipe.experiments.results import parse_exp_show
from ferpipe.experiments.sweeps import load_sweeps
from ferpipe.report.claims import Run, accuracy_claim, data_claim, svm_vs_softmax_claim
from ferpipe.report.paper import load_paper
from ferpipe.report.tables_folder import write_tables

DOC = json.loads((Path(__file__).parent / "data" / "exp_show_sweeps.json").read_text())
PAPER = load_paper(REPO / "paper.yaml")
EXPERIMENT = "table4-20261129T210700-3"  # demo, lenet, lr 0.05
STEMS = ("data", "train", "softmax", "svm", "compare")


def write_run(folder: Path) -> dict:
    """The experiment's params.yaml and metrics files, and the sweep tables of the whole file, in `folder`."""
    exp = next(e["revs"][0]["data"] for c in DOC for e in c.get("experiments") or [] if e["name"] == EXPERIMENT)
    params = exp["params"]["params.yaml"]["data"]
    (folder / "params.yaml").write_text(yaml.safe_dump({**params, "embed": {**params["embed"], "features": "network"}}))
    metrics = {Path(path).stem: v["data"] for path, v in exp["metrics"].items()}
    for stem in STEMS:
        (folder / f"{stem}.json").write_text(json.dumps(metrics[stem]))
    write_tables(folder / "sweeps", parse_exp_show(DOC), load_sweeps(REPO / "sweeps.yaml"), REPO / "paper.yaml")
    return metrics


def run_report(folder: Path, tables: Path | None = None, extra: list[str] = ()) -> subprocess.CompletedProcess:
    args = [sys.executable, str(REPO / "stages" / "report.py"), "--params", str(folder / "params.yaml"),
            "--paper", str(REPO / "paper.yaml"), "--tables", str(tables or folder / "sweeps" / "tables.json"),
            "--out", str(folder / "REPORT.md"), *extra]
    for stem in STEMS:
        args += [f"--{stem}", str(folder / f"{stem}.json")]
    return subprocess.run(args, cwd=folder, capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""})


def test_every_number_of_the_report_comes_from_its_sources(tmp_path):
    metrics = write_run(tmp_path)
    proc = run_report(tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "REPORT.md").read_text()
    tables = json.loads((tmp_path / "sweeps" / "tables.json").read_text())
    rows = [r for t in tables["tables"] for r in t["rows"]]
    proportions = [(metrics["svm"]["accuracy"], metrics["svm"]["n"])]
    proportions += [(r["test_error"] / 100, r["test_images"]) for r in rows]
    proportions += [(r["val_error"] / 100, r["val_images"]) for r in rows]
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    paper = yaml.safe_load((REPO / "paper.yaml").read_text())
    assert untraced_numbers(report, allowed_numbers([*metrics.values(), params, paper, tables], proportions)) == []
    cmp = metrics["compare"]
    assert table_rows(report, "accuracy %") == [["accuracy %", f"{100 * cmp['softmax_accuracy']:.1f}",
                                                 f"{100 * cmp['svm_accuracy']:.1f}"]]
    assert f"{100 * cmp['accuracy_difference']:+.1f} accuracy points on {cmp['n']} test images" in report
    assert "### table4: lr on genki4k" in report and "**mean ± sd, 2 of 2 folds**" in report
    assert "](sweeps/table4-1.png)" in report  # plots linked relative to the report


def test_the_plots_of_a_second_tables_file_are_linked_in_its_own_folder(tmp_path):
    write_run(tmp_path)
    other = tmp_path / "elsewhere" / "sweeps"
    write_tables(other, parse_exp_show(DOC), load_sweeps(REPO / "sweeps.yaml"), REPO / "paper.yaml")
    proc = run_report(tmp_path, extra=["--tables", str(other / "tables.json")])
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "REPORT.md").read_text()
    links = re.findall(r"\]\(([^)]+\.png)\)", report)
    assert "sweeps/table4-1.png" in links and "elsewhere/sweeps/table4-1.png" in links
    assert [link for link in links if "sweeps/" in link and not (tmp_path / link).is_file()] == []


def test_classes_absent_from_test_are_named(tmp_path):
    metrics = write_run(tmp_path)
    (tmp_path / "compare.json").write_text(json.dumps({**metrics["compare"], "classes_absent_from_test": ["fear"]}))
    assert run_report(tmp_path).returncode == 0
    assert "Not in the test set, so without recall and left out of the plot: fear." in (tmp_path / "REPORT.md").read_text()


def test_a_checkable_number_that_is_wrong_is_caught(tmp_path):
    metrics = write_run(tmp_path)
    assert run_report(tmp_path).returncode == 0
    report = (tmp_path / "REPORT.md").read_text()
    wrong = f"{100 * metrics['compare']['svm_accuracy']:.1f}"
    tampered = report.replace(f"| {wrong} |", "| 12.3 |", 1)
    assert tampered != report
    assert "12.3" in untraced_numbers(tampered, allowed_numbers([*metrics.values()], []))


def test_no_sweep_tables_say_so(tmp_path):
    write_run(tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text('{"tables": []}\n')
    assert run_report(tmp_path, tables=empty).returncode == 0
    report = (tmp_path / "REPORT.md").read_text()
    assert "No sweep table yet" in report and "No k-fold run yet" in report


@pytest.mark.parametrize("broken, message", [
    ("compare.json", "compare.json: not found; run the stage that writes it"),
    ("sweeps/tables.json", "tables.json: not found; it is written by `python -m ferpipe tables`"),
])
def test_a_missing_input_is_one_error_and_leaves_no_report(tmp_path, broken, message):
    write_run(tmp_path)
    (tmp_path / "REPORT.md").write_text("stale")
    record_written(tmp_path, ["REPORT.md"])  # as the run that wrote it leaves it
    (tmp_path / broken).unlink()
    proc = run_report(tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and message in proc.stderr
    assert not (tmp_path / "REPORT.md").exists()


def run_of(dataset: str, arch: str, metrics: dict) -> Run:
    flat = {"dataset": dataset, "arch": arch, "embed.features": "network", "epochs": 50, "train.steps_per_epoch": None}
    return Run.from_params(flat, {"data": {"dataset": dataset}, **metrics})


@pytest.mark.parametrize("dataset, arch, accuracy, verdict", [
    ("fer2013", "resnet50", 0.985, "holds"),
    ("fer2013", "resnet50", 0.70, "does not hold"),
    ("fer2013", "lenet", 0.985, "cannot be judged: measured with LeNet features"),
    ("demo", "resnet50", 0.985, "cannot be judged: measured on demo"),
])
def test_the_accuracy_claim(dataset, arch, accuracy, verdict):
    claim = accuracy_claim(PAPER, run_of(dataset, arch, {"svm": {"accuracy": accuracy, "n": 3589}}))
    assert claim.verdict.startswith(verdict) and claim.claimed == "98.6 %"


@pytest.mark.parametrize("low, high, verdict", [
    (0.002, 0.02, "holds"),  # +1 inside, 0 outside
    (-0.01, 0.03, "cannot be judged"),  # both +1 and 0 inside
    (-0.05, -0.02, "does not hold"),
    (0.03, 0.08, "does not hold"),
])
def test_the_svm_against_softmax_claim(low, high, verdict):
    compare = {"accuracy_difference": (low + high) / 2, "bootstrap_ci95_low": low, "bootstrap_ci95_high": high,
               "mcnemar_p_value": 0.5, "n": 3589}
    assert svm_vs_softmax_claim(PAPER, run_of("fer2013", "resnet50", {"compare": compare})).verdict.startswith(verdict)


def test_the_data_description_claim():
    counts = {s: {"total": n} for s, n in (("train", 28006), ("val", 3589), ("test", 3589))}
    fer = data_claim(PAPER, run_of("fer2013", "lenet", {"data": {"dataset": "fer2013", "counts": counts}}))
    assert fer.verdict.startswith("does not hold") and fer.claimed == "392/49/49" and fer.measured == "28006/3589/3589"
