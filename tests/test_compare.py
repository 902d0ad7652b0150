"""The `compare` stage: exact McNemar, the paired bootstrap interval (both against hand-computed
cases), matching the two prediction files by test id, and its clean failures."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.stage_runs import run_in_process
from support.svm_fixtures import COMPARE_PARAMS

from ferpipe.core.outputs import record_written
from ferpipe.core.errors import FerpipeError
from ferpipe.eval import compare as compare_module
from ferpipe.eval.compare import bootstrap_interval, compare, mcnemar_exact, write_compare
from ferpipe.eval.settings import CompareSettings
from ferpipe.eval.predictions import save_predictions

CLASSES = ["a", "b", "c"]


def pairs(both: int, first_only: int, second_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image correctness of two classifiers with the given agreement counts."""
    first = [True] * both + [True] * first_only + [False] * second_only + [False] * neither
    second = [True] * both + [False] * first_only + [True] * second_only + [False] * neither
    return np.array(first), np.array(second)


@pytest.mark.parametrize("counts, p", [
    ((3, 0, 5, 2), 2 / 32),  # all 5 discordant pairs favour the second: 2 * (1/2)^5
    ((3, 1, 4, 2), 2 * 6 / 32),  # 2 * P(X <= 1), X ~ Bin(5, 1/2) = 2 * (1 + 5) / 32
    ((0, 2, 10, 0), 2 * 79 / 4096),  # 2 * (1 + 12 + 66) / 2^12
    ((4, 3, 3, 1), 1.0),  # balanced: 2 * P(X <= 3 | 6) > 1, capped
    ((6, 0, 0, 4), 1.0),  # no discordant pair at all
])
def test_mcnemar_exact_by_hand(counts, p):
    result = mcnemar_exact(*pairs(*counts))
    assert result == {"first_only_correct": counts[1], "second_only_correct": counts[2], "p_value": pytest.approx(p)}


def test_bootstrap_without_discordant_pairs_is_exactly_zero():
    assert bootstrap_interval(*pairs(5, 0, 0, 3), resamples=1000, seed=0) == (0.0, 0.0)


def test_bootstrap_interval_by_hand():
    # two images, one favours each classifier: a resample holds 0, 1 or 2 of the second's wins,
    # difference -1, 0 or +1 with probabilities 1/4, 1/2, 1/4, so the 2.5% and 97.5% points are -1 and +1
    assert bootstrap_interval(*pairs(0, 1, 1, 0), resamples=20000, seed=0) == (-1.0, 1.0)
    # four images, one won by the second only: the count of it in a resample is Bin(4, 1/4),
    # P(0) = 0.316 > 2.5% and P(<= 2) = 0.949 < 97.5% < P(<= 3) = 0.996: the interval is [0, 3/4]
    assert bootstrap_interval(*pairs(3, 0, 1, 0), resamples=20000, seed=0) == (0.0, 0.75)


def test_bootstrap_matches_resampling_test_images_by_index():
    first, second = pairs(120, 25, 40, 15)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(first))
    first, second = first[order], second[order]
    draws = rng.integers(0, len(first), (20000, len(first)))
    by_index = np.quantile(second[draws].mean(axis=1) - first[draws].mean(axis=1), [0.025, 0.975])
    np.testing.assert_allclose(bootstrap_interval(first, second, 20000, seed=0), by_index, atol=0.01)


def test_bootstrap_is_seeded():
    first, second = pairs(50, 10, 14, 6)
    assert bootstrap_interval(first, second, 500, seed=3) == bootstrap_interval(first, second, 500, seed=3)


def test_params_are_checked():
    with pytest.raises(FerpipeError, match=re.escape("compare.bootstrap must be an integer in [100, 100000]")):
        CompareSettings.from_params({"compare": {"bootstrap": 10, "seed": 0}})
    with pytest.raises(FerpipeError, match=r"unknown parameter compare.level"):
        CompareSettings.from_params({"compare": {**COMPARE_PARAMS, "level": 0.9}})


def write_predictions(path: Path, ids, labels, predicted) -> None:
    save_predictions(path, np.array(predicted), np.array(labels), np.array(ids), CLASSES)


def run_compare(tmp: Path) -> subprocess.CompletedProcess:
    (tmp / "params.yaml").write_text(yaml.safe_dump({"compare": COMPARE_PARAMS}))
    return run_in_process("compare", ["--params", tmp / "params.yaml", "--softmax", tmp / "softmax.npz",
                                      "--svm", tmp / "svm.npz", "--metrics", tmp / "compare.json",
                                      "--plot", tmp / "recall.png"], tmp)


def test_stage_matches_rows_by_id_and_reports_the_difference(tmp_path):
    ids, labels = [10, 11, 12, 13, 14, 15], [0, 1, 2, 0, 1, 2]
    write_predictions(tmp_path / "softmax.npz", ids, labels, [0, 1, 0, 1, 1, 2])  # 4 / 6 right
    order = [5, 3, 1, 0, 2, 4]  # the SVM file lists the same images in another order
    svm_predicted = [0, 1, 2, 0, 1, 0]  # 5 / 6 right: 12 and 13 it alone gets right, 15 the softmax alone
    write_predictions(tmp_path / "svm.npz", [ids[i] for i in order], [labels[i] for i in order],
                      [svm_predicted[i] for i in order])
    done = run_compare(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "compare.json").read_text())
    assert report["softmax_accuracy"] == pytest.approx(4 / 6) and report["svm_accuracy"] == pytest.approx(5 / 6)
    assert report["accuracy_difference"] == pytest.approx(1 / 6)
    assert (report["svm_only_correct"], report["softmax_only_correct"]) == (2, 1)
    assert report["mcnemar_p_value"] == pytest.approx(1.0)
    assert report["bootstrap_ci95_low"] <= report["accuracy_difference"] <= report["bootstrap_ci95_high"]
    assert report["recall"]["svm"] == {"a": 1.0, "b": 1.0, "c": 0.5}
    assert report["recall"]["softmax"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert (tmp_path / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_class_absent_from_test_is_named_not_scored(tmp_path, monkeypatch):
    ids, labels = [10, 11, 12, 13], [0, 1, 0, 1]  # no test image of class c
    write_predictions(tmp_path / "softmax.npz", ids, labels, [0, 1, 2, 1])
    write_predictions(tmp_path / "svm.npz", ids, labels, [0, 1, 0, 2])
    plotted = {}
    monkeypatch.setattr(compare_module, "plot_recall", lambda path, classes, recall, title: plotted.update(
        classes=classes, title=title))
    report, classes = compare(tmp_path / "softmax.npz", tmp_path / "svm.npz", CompareSettings(bootstrap=100, seed=0))
    write_compare(report, classes, tmp_path / "compare.json", tmp_path / "recall.png")
    assert report["classes_absent_from_test"] == ["c"]
    assert report["recall"] == {"softmax": {"a": 0.5, "b": 1.0}, "svm": {"a": 1.0, "b": 0.5}}
    assert plotted["classes"] == ["a", "b"] and "not in the test set, so not shown: c" in plotted["title"]


@pytest.mark.parametrize("svm_ids, svm_labels, message", [
    ([10, 11, 12, 99], [0, 1, 2, 0], "cover different test images (1 ids only in the first, 1 only in the second"),
    ([10, 11, 12], [0, 1, 2], "cover different test images (1 ids only in the first, 0 only in the second"),
    ([10, 11, 12, 13], [0, 1, 2, 1], "the same test ids carry different labels"),
])
def test_stage_refuses_predictions_over_other_images(tmp_path, svm_ids, svm_labels, message):
    write_predictions(tmp_path / "softmax.npz", [10, 11, 12, 13], [0, 1, 2, 0], [0, 1, 2, 0])
    write_predictions(tmp_path / "svm.npz", svm_ids, svm_labels, svm_labels)
    (tmp_path / "compare.json").write_text("{}")  # stale: left by an earlier run, which named it in the manifest
    record_written(tmp_path, ["compare.json"])
    done = run_compare(tmp_path)
    assert done.returncode == 1 and message in done.stderr, done.stderr[-2000:]
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "compare.json").exists() and not (tmp_path / "recall.png").exists()


def test_stage_without_svm_predictions_fails_cleanly(tmp_path):
    write_predictions(tmp_path / "softmax.npz", [10, 11], [0, 1], [0, 1])
    done = run_compare(tmp_path)
    assert done.returncode == 1 and "svm.npz: predictions file not found" in done.stderr
