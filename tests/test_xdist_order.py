"""The order and units in which `make test`'s xdist workers get the test files (tests/support/xdist_order.py)."""
from __future__ import annotations

import re

from support.stage_runs import REPO
from support.xdist_order import LONGEST_FIRST, SHARED_MODEL, SHARED_MODEL_FILES, longest_first, unit_of


def test_the_long_files_go_first_and_the_shared_model_files_together():
    ids = ["tests/bad_input/test_bad_params.py::a", "tests/test_export.py::x", "tests/test_augment.py::y",
           "tests/test_pipeline.py::p1", "tests/test_predict.py::q", "tests/test_pipeline.py::p2",
           "tests/test_ray_sweep.py::r[1]", "tests/test_export.py::x2"]
    ordered = [ids[i] for i in longest_first(ids)]
    assert ordered == ["tests/test_ray_sweep.py::r[1]", "tests/test_pipeline.py::p1", "tests/test_pipeline.py::p2",
                       "tests/test_export.py::x", "tests/test_export.py::x2", "tests/test_predict.py::q",
                       "tests/bad_input/test_bad_params.py::a", "tests/test_augment.py::y"]
    assert {unit_of(i) for i in ordered[3:6]} == {SHARED_MODEL}


def test_the_shared_model_files_are_those_that_read_the_lenet_fixtures():
    readers = {f"tests/{p.relative_to(REPO / 'tests')}" for p in (REPO / "tests").rglob("test_*.py")
               if p.name != "test_xdist_order.py" and re.search(r"\bdef test_\w*\([^)]*\b(demo_lenet|demo_export)\b|\((demo_lenet|demo_export)\b",
                            p.read_text())}
    assert readers == SHARED_MODEL_FILES


def test_every_file_named_exists():
    assert all((REPO / name).is_file() for name in LONGEST_FIRST if name != SHARED_MODEL)
