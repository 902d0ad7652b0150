"""REPORT.md's CK+ finding: the sweep tables of the paper's frame-level split and of the subject split
paired, each paper figure judged under both, the k-fold intervals and the paragraph's numbers. The
experiments are real tiny ones (tests/data/exp_show_sweeps.json) relabelled as CK+ runs."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from support.stage_imports import REPO

from ferpipe.experiments.results import parse_exp_show
from ferpipe.experiments.sweeps import load_sweeps
from ferpipe.report.claims import FAILS, HOLDS, proportion_interval
from ferpipe.report.paper import load_paper
from ferpipe.report.ckplus_protocols import (
    finding,
    paired_tables,
    pool_folds,
    protocols_section,
    side_by_side,
    subject_kfold,
    table2_point,
)
from ferpipe.report.tables import sweep_tables

DOC = json.loads((Path(__file__).parent / "data" / "exp_show_sweeps.json").read_text())
SWEEPS = load_sweeps(REPO / "sweeps.yaml")
PAPER = load_paper(REPO / "paper.yaml")
SPLIT_OF = {"table4-20261129T211503": "paper", "table4-20261129T210700": "subject",
            "kfold-20261129T210120": "subject"}  # the rest (table5 on GENKI-4K) stays as it ran


def as_ckplus(doc: list, split_of: dict[str, str] = SPLIT_OF) -> list:
    """The doc with the named experiments' params made those of a CK+ run under the given split."""
    doc = copy.deepcopy(doc)
    for commit in doc:
        for exp in commit.get("experiments") or []:
            split = split_of.get(exp["name"].rsplit("-", 1)[0])
            if split:
                params = exp["revs"][0]["data"]["params"]["params.yaml"]["data"]
                params["dataset"] = "ckplus"
                params["sources"] = {"fer2013": None, "ckplus": "/data/ckplus", "genki4k": None}
                params["fetch"]["ckplus_protocol"] = split
    return doc


def with_protocols_sweep(arch: str) -> list:
    """The doc with a `protocols` sweep: one demo experiment's params and metrics as `arch` under each CK+ split."""
    doc = as_ckplus(DOC, {})
    commit = next(c for c in doc if any(e["name"] == "table4-20261129T210700-3" for e in c.get("experiments") or []))
    source = next(e for e in commit["experiments"] if e["name"] == "table4-20261129T210700-3")
    for i, split in enumerate(("paper", "subject"), start=1):
        exp = copy.deepcopy(source)
        exp["name"] = f"protocols-20261130T120000-{i}"
        params = exp["revs"][0]["data"]["params"]["params.yaml"]["data"]
        params.update(dataset="ckplus", arch=arch, sources={"fer2013": None, "ckplus": "/d", "genki4k": None})
        params["fetch"]["ckplus_protocol"] = split
        commit["experiments"].append(exp)
    return doc


def ckplus_tables(doc: list | None = None):
    return sweep_tables(parse_exp_show(as_ckplus(DOC) if doc is None else doc), SWEEPS, PAPER)


def test_ckplus_tables_show_their_split_and_pair_across_splits_only_when_all_else_is_equal():
    tables = ckplus_tables()
    table4 = [t for t in tables if t.sweep == "table4"]
    assert sorted(t.settings["fetch.ckplus_protocol"] for t in table4) == ["paper", "subject"]
    pairs = paired_tables(tables)
    assert len(pairs) == 1 and {split: t.rows[0]["experiment"][:22] for split, t in pairs[0].items()} == {
        split: name for name, split in SPLIT_OF.items() if name.startswith("table4")}
    # Another number of epochs under one split: never paired.
    doc = as_ckplus(DOC)
    for commit in doc:
        for exp in commit.get("experiments") or []:
            if exp["name"].startswith("table4-20261129T211503"):
                exp["revs"][0]["data"]["params"]["params.yaml"]["data"]["epochs"] += 1
    assert paired_tables(ckplus_tables(doc)) == []
    # A FER-2013 table has no split setting and is never paired.
    assert all("fetch.ckplus_protocol" not in t.settings for t in sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER))



def test_each_paper_figure_is_judged_under_both_splits_by_the_claims_rules():
    tables = ckplus_tables()
    pairs = {p.claim: p for p in side_by_side(PAPER, tables)}
    group = paired_tables(tables)[0]
    for split, table in group.items():
        for row in table.rows:
            claim = getattr(pairs[f"test error at lr = {row['value']}"], f"{split}_split")
            low, high = proportion_interval(row["test_error"] / 100, row["test_images"])
            inside = low <= row["paper"]["test_error"] <= high
            assert claim.verdict.startswith(HOLDS if inside else FAILS), claim.verdict
            assert row["experiment"] in claim.measured


def test_kfold_intervals_over_the_folds_and_pooled():
    kfold = next(t for t in ckplus_tables() if t.aggregate is not None)
    rows = copy.deepcopy(kfold.rows)
    for row, (acc, n) in zip(rows, [(80.0, 50), (90.0, 60)]):
        row["softmax_accuracy"], row["test_images"] = acc, n
    kfold.rows = rows + [dict(rows[0], softmax_accuracy=85.0, test_images=40, experiment="third")]
    pooled = pool_folds(kfold, "softmax")
    assert (pooled.folds, pooled.mean, pooled.sd) == (3, pytest.approx(85.0), pytest.approx(5.0))
    half = 4.302652729911275 * 5.0 / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert (pooled.t_low, pooled.t_high) == (pytest.approx(85.0 - half), pytest.approx(85.0 + half))
    assert pooled.images == 150 and pooled.pooled == pytest.approx(100 * (40 + 54 + 34) / 150)
    assert (pooled.pooled_low, pooled.pooled_high) == pytest.approx(proportion_interval(128 / 150, 150))
    kfold.rows = rows[:1]
    assert pool_folds(kfold, "softmax") is None  # one fold gives no interval


def test_the_paragraph_states_the_leak_from_the_numbers():
    tables = ckplus_tables()
    point = table2_point(PAPER, tables)
    acc_paper = point["paper"][1]["softmax_accuracy"]
    pooled = subject_kfold(tables, "softmax")
    text = finding(PAPER, tables, side_by_side(PAPER, tables))
    assert f"reaches {acc_paper:.1f} % test accuracy under the paper's frame-level split" in text
    assert f"worth {acc_paper - pooled.pooled:.1f} accuracy points" in text
    assert f"{pooled.pooled:.1f} % with all {pooled.images} test images pooled" in text
    assert f"{(100 - pooled.pooled) / (100 - acc_paper):.1f} times the errors" in text
    assert "the paper: 97.5 %" in text  # 100 - Table 4's 2.5 % at the Table 2 learning rate


def test_without_both_splits_there_is_no_side_by_side_section():
    only_subject = as_ckplus(DOC, {k: "subject" for k in SPLIT_OF})
    tables = ckplus_tables(only_subject)
    assert paired_tables(tables) == []
    section = protocols_section(PAPER, tables)
    assert section[0].startswith("## CK+")  # the k-fold figure alone is still judged
    assert "not measured under both splits yet" in section[2]
    assert protocols_section(PAPER, sweep_tables(parse_exp_show(DOC), SWEEPS, PAPER)) == []


def test_the_protocols_sweep_judges_the_papers_resnet_claims_under_both_splits():
    tables = ckplus_tables(with_protocols_sweep("resnet50"))
    pairs = {p.claim: p for p in side_by_side(PAPER, tables)}
    accuracy = pairs["accuracy of the deep features + RBF SVM (on CK+, the data of the paper's description)"]
    gain = pairs["SVM better than the softmax head"]
    row_table = next(t for t in tables if t.sweep == "protocols")
    row = row_table.rows[0]
    low, high = proportion_interval(row["svm_accuracy"] / 100, row["test_images"])
    for split in ("paper", "subject"):
        claim = getattr(accuracy, f"{split}_split")
        assert claim.verdict.startswith(HOLDS if low <= 98.6 <= high else FAILS), claim.verdict
        assert f"{row['svm_accuracy']:.1f} % (SVM" in claim.measured
        assert getattr(gain, f"{split}_split").verdict.split(":")[0] in (HOLDS, FAILS, "cannot be judged")
    assert (f"The ResNet-50 of the `protocols` sweep ({row_table.budget}) reaches {row['svm_accuracy']:.1f} % (SVM) "
            "under the frame-level split") in finding(PAPER, tables, list(pairs.values()))


def test_a_sweep_of_the_split_names_each_value_s_split():
    table = next(t for t in ckplus_tables(with_protocols_sweep("lenet")) if t.sweep == "protocols")
    assert table.protocol == ("paper: the paper's frame-level split (56/7/7 per class); "
                              "subject: subject split (no person in two splits)")
