"""The paper's Table 3 claim on one protocol: `python -m ferpipe traditional` (the deep pipeline against
LBP / HOG + SVM on the same test images, pooled over folds) and the report's verdict and words on it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.report_numbers import allowed_numbers, untraced_numbers
from support.stage_imports import REPO
from support.stage_runs import expect_error, result_of
from test_report_stage import run_of, run_report, write_run

from ferpipe.commands.traditional import main
from ferpipe.eval.predictions import save_predictions
from ferpipe.eval.settings import CompareSettings
from ferpipe.eval.traditional import three_way
from ferpipe.report.paper import load_paper
from ferpipe.report.traditional import traditional_claim

PAPER = load_paper(REPO / "paper.yaml")
SETTINGS = CompareSettings(bootstrap=2000, seed=0)
CLASSES = ["a", "b"]


def predictions(folder: Path, name: str, right: list[int], ids: np.ndarray) -> Path:
    """A predictions file of len(ids) test images, labels alternating, right where `right` is 1."""
    labels = np.arange(len(ids)) % 2
    path = folder / f"{name}.npz"
    save_predictions(path, np.where(np.array(right) == 1, labels, 1 - labels), labels, ids, CLASSES)
    return path


def folds(tmp_path: Path, name: str, right: list[int], k: int = 2) -> list[Path]:
    """`right` split over `k` fold files with distinct ids."""
    n = len(right) // k
    return [predictions(tmp_path, f"{name}{i}", right[i * n:(i + 1) * n], np.arange(n) + 100 * i) for i in range(k)]


def test_the_three_way_table_pools_the_folds_and_pairs_the_images(tmp_path):
    deep = [1] * 36 + [0] * 4  # 90%: fold 0 all right, fold 1 16 of 20
    lbp = [1, 0] * 20  # 50%
    table = three_way({"network": folds(tmp_path, "net", deep), "lbp": folds(tmp_path, "lbp", lbp),
                       "softmax": folds(tmp_path, "soft", deep)}, SETTINGS)
    assert table["n"] == 40 and table["files_per_pipeline"] == 2
    net = table["pipelines"]["network"]
    assert net["accuracy"] == pytest.approx(0.9) and net["per_file"] == pytest.approx([1.0, 0.8])
    assert net["images_per_file"] == [20, 20]
    assert net["mean"] == pytest.approx(0.9) and net["sd"] == pytest.approx(np.std([1.0, 0.8], ddof=1))
    first = table["comparisons"][0]  # softmax before network, each against lbp
    assert (first["deep"], first["handcrafted"]) == ("softmax", "lbp")
    versus = table["comparisons"][1]
    assert versus["difference"] == pytest.approx(0.4)
    assert (versus["deep_only_correct"], versus["handcrafted_only_correct"]) == (18, 2)
    assert 0 < versus["ci95_low"] < 0.4 < versus["ci95_high"] and versus["mcnemar_p_value"] < 0.001


def test_the_command_writes_the_table_and_bad_input_is_one_error(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("compare: {bootstrap: 1000, seed: 0}\n")
    net, hog = folds(tmp_path, "net", [1] * 10, k=1), folds(tmp_path, "hog", [1] * 10, k=1)
    main(["--params", str(params), "--network", *map(str, net), "--hog", *map(str, hog), "--out", str(tmp_path / "t.json")])
    table = json.loads((tmp_path / "t.json").read_text())
    assert table["comparisons"][0]["difference"] == 0 and table["comparisons"][0]["mcnemar_p_value"] == 1.0
    assert "HOG + SVM: 1.0000 on 10 test images" in capsys.readouterr().out
    out = tmp_path / "bad.json"
    overlapping = [predictions(tmp_path, f"o{i}", [1] * 4, np.arange(4)) for i in range(2)]
    for args, message in [
        (["--network", *map(str, net)], "give at least one hand-crafted pipeline (--lbp, --hog)"),
        (["--network", *map(str, net), "--lbp", *map(str, overlapping)], "every pipeline needs as many prediction files"),
        (["--network", *map(str, overlapping), "--lbp", *map(str, overlapping)], "a test image is in two of the files"),
        (["--network", *map(str, net), "--lbp", str(predictions(tmp_path, "other", [1] * 10, np.arange(10) + 50))],
         "cover different test images"),
    ]:
        expect_error(result_of(main, "--params", str(params), *args, "--out", str(out)), message, [out])


def table_of(intervals: list[tuple[float, float]]) -> dict:
    comparisons = [{"deep": "network", "handcrafted": name, "difference": (low + high) / 2, "ci95_low": low,
                    "ci95_high": high, "mcnemar_p_value": 0.5, "deep_only_correct": 3, "handcrafted_only_correct": 2,
                    "difference_is": "network + SVM minus x"} for name, (low, high) in zip(("lbp", "hog"), intervals)]
    pipelines = {k: {"label": k.upper(), "accuracy": 0.9, "mean": 0.9, "sd": None} for k in ("network", "lbp", "hog")}
    return {"n": 100, "files_per_pipeline": 1, "bootstrap_resamples": 1000, "pipelines": pipelines,
            "comparisons": comparisons}


@pytest.mark.parametrize("intervals, arch, verdict", [
    ([(0.02, 0.1), (0.01, 0.05)], "resnet50", "holds: the network + SVM beats LBP and HOG"),
    ([(0.02, 0.1), (-0.02, 0.05)], "resnet50", "cannot be judged: a 95% interval holds no difference"),
    ([(0.02, 0.1), (-0.1, -0.01)], "resnet50", "does not hold: the network + SVM is beaten by HOG"),
    ([(0.02, 0.1), (0.01, 0.05)], "lenet", "holds: the network + SVM beats LBP and HOG, every 95% interval above 0; "
                                           "measured with LeNet features, not the paper's ResNet-50"),
])
def test_the_table3_verdict(intervals, arch, verdict):
    claim = traditional_claim(PAPER, run_of("ckplus", arch, {}), table_of(intervals))
    assert claim.verdict.startswith(verdict) and claim.test_images == "100"
    assert claim.claimed.startswith("98.60 % against 84.40 to 92.46 %")


def test_without_a_three_way_table_or_a_deep_pipeline_in_it_the_claim_is_not_judged(tmp_path):
    assert traditional_claim(PAPER, run_of("ckplus", "lenet", {}), None).verdict.startswith("cannot be judged: no three-way")
    only_lbp = three_way({"lbp": folds(tmp_path, "lbp", [1, 0] * 10)}, SETTINGS)
    assert only_lbp["comparisons"] == [] and only_lbp["pipelines"]["lbp"]["accuracy"] == 0.5
    assert traditional_claim(PAPER, run_of("ckplus", "lenet", {}), only_lbp).verdict.startswith("cannot be judged")


def test_the_report_says_when_its_svm_is_on_handcrafted_features_and_judges_table3(tmp_path):
    metrics = write_run(tmp_path)
    params = (tmp_path / "params.yaml").read_text().replace("features: network", "features: lbp")
    (tmp_path / "params.yaml").write_text(params)
    (tmp_path / "t.json").write_text(json.dumps(table_of([(0.02, 0.1), (0.01, 0.05)])))
    proc = run_report(tmp_path, extra=["--traditional", str(tmp_path / "t.json")])
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "REPORT.md").read_text()
    assert "## The network's softmax against the RBF SVM on LBP features" in report
    assert "not the softmax against an SVM on the same features" in report
    assert "cannot be judged: measured with the SVM on LBP features" in report  # the SVM-against-softmax claim
    assert "| ResNet-50 + SVM (the paper's own) | 98.60 |" in report and "| CNN + AD | 84.55 |" in report
    assert "**Verdict:** holds: the network + SVM beats LBP and HOG" in report
    paper = load_paper(REPO / "paper.yaml")
    sources = [*metrics.values(), paper.claims, paper.data, table_of([(0.02, 0.1), (0.01, 0.05)])]
    sweeps = json.loads((tmp_path / "sweeps" / "tables.json").read_text())
    assert untraced_numbers(report, allowed_numbers([*sources, sweeps, paper.table2], [])) == []
