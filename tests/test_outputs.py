"""All-or-nothing stage outputs: temporary copies beside each output, moved into place on success,
removed on failure, and those of a killed run removed at the next start and ignored by git."""
from __future__ import annotations

import subprocess

import pytest
from support.builders import STALE_TAG, leftovers, plant_stale
from support.stage_runs import REPO

from ferpipe.core.errors import FerpipeError
from ferpipe.core.outputs import staged_outputs, temp_path


def test_success_replaces_outputs_and_clears_a_killed_runs_temporaries(tmp_path):
    outs = [tmp_path / "metrics" / "m.json", tmp_path / "data" / "folder"]
    plant_stale(outs)
    unrelated = [tmp_path / "metrics" / ".m.json.tmp-notatag", tmp_path / "metrics" / ".other.json.tmp-0badc0de",
                 tmp_path / "metrics" / "m.json.tmp-0badc0de"]
    for path in unrelated:
        path.write_text("keep")
    with staged_outputs(*outs) as (metrics, folder):
        assert not temp_path(outs[0], STALE_TAG).exists()  # cleared before the stage starts
        metrics.write_text("new")
        folder.mkdir()
    assert leftovers(outs) == outs
    assert outs[0].read_text() == "new" and not any(outs[1].iterdir())
    assert all(path.read_text() == "keep" for path in unrelated)


def test_failure_leaves_neither_outputs_nor_temporaries(tmp_path):
    outs = [tmp_path / "m.json", tmp_path / "folder"]
    plant_stale(outs)
    with pytest.raises(FerpipeError):
        with staged_outputs(*outs) as (metrics, folder):
            metrics.write_text("partial")
            raise FerpipeError("bad input")
    assert leftovers(outs) == []


@pytest.mark.parametrize("path", ["metrics/.softmax.json.tmp-0123abcd", "plots/.train.tmp-89abcdef",
                                  "data/.dataset.tmp-00000000"])
def test_temporary_outputs_are_git_ignored(path):
    proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO)
    assert proc.returncode == 0, f"{path} is not git-ignored"
