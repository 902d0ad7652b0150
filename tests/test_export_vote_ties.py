"""The export's parity check on the crops where ONNX's float32 SVM may cast a one-vs-one vote the other way
(those, and only those, with a one-vs-one decision value within VOTE_MARGIN of 0): their one-vs-rest values
may differ by whole votes, nothing else."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from support.svm_fixtures import SVM_PARAMS, blobs

from ferpipe.core.errors import FerpipeError
from ferpipe.export.run import VOTE_MARGIN, near_vote_tie, svm_parity
from ferpipe.export.svm import export_svm
from ferpipe.svm.fit import fit_final
from ferpipe.svm.settings import SvmSettings
from ferpipe.svm.model import pairwise_scores


def one_vs_one(svm, x: np.ndarray) -> np.ndarray:
    return pairwise_scores(svm[-1], svm[:-1].transform(x))


def on_the_boundary(svm, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A point between class centres a and b where their one-vs-one value (the first pair's) is 0, by bisection."""
    low, high = 0.0, 1.0
    value = lambda t: one_vs_one(svm, (a + t * (b - a))[None])[0, 0]  # noqa: E731
    assert value(low) * value(high) < 0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if value(mid) * value(low) > 0 else (low, mid)
    return (a + low * (b - a)).astype(np.float64)


def test_only_crops_near_a_vote_tie_are_flagged():
    x, y = blobs(120, 3, 8, seed=1)
    settings = SvmSettings(**{**SVM_PARAMS, "C": (1.0,), "gamma": ("scale",), "backend": "sklearn"})
    svm = fit_final(x.astype(np.float64), y, settings, 1.0, "scale")
    centres = np.stack([x[y == k].mean(axis=0) for k in range(3)]).astype(np.float64)
    tie = on_the_boundary(svm, centres[0], centres[1])
    assert abs(one_vs_one(svm, tie[None])[0, 0]) < VOTE_MARGIN / 100
    rows = np.concatenate([centres, tie[None]])
    assert near_vote_tie(svm, rows).tolist() == [False, False, False, True]
    # Far from every boundary, nothing is left out of the comparison.
    assert not near_vote_tie(svm, x[:30].astype(np.float64)).any()


class MovedVotes:
    """An ONNX SVM session whose one-vs-rest values of the row `row` move by `shift` (class 0 up, class 1 down)."""

    def __init__(self, session, row: int, shift: float):
        self.session, self.row, self.shift = session, row, shift

    def run(self, outputs, feed):
        labels, scores = self.session.run(outputs, feed)
        scores = scores.copy()
        scores[self.row, :2] += (self.shift, -self.shift)
        return labels, scores


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 3-class SVM, its ONNX export's session, the class centres and a point on the 0-1 boundary."""
    x, y = blobs(120, 3, 8, seed=1)
    settings = SvmSettings(**{**SVM_PARAMS, "C": (1.0,), "gamma": ("scale",), "backend": "sklearn"})
    svm = fit_final(x.astype(np.float64), y, settings, 1.0, "scale")
    path = tmp_path_factory.mktemp("svm") / "svm.onnx"
    export_svm(svm, path)
    centres = np.stack([x[y == k].mean(axis=0) for k in range(3)]).astype(np.float64)
    return svm, onnxruntime.InferenceSession(path), centres, on_the_boundary(svm, centres[0], centres[1])


def test_a_crop_near_a_tie_may_differ_by_whole_votes(exported):
    svm, session, centres, tie = exported
    rows = np.concatenate([centres, tie[None]])
    checked = svm_parity(session, svm, rows, Path("test.npz"))
    assert checked["svm_crops_near_a_vote_tie"] == 1 and checked["max_svm_probability_difference"] < 1e-6
    # Exactly on the boundary ONNX may already vote the other way; two votes more are apart either way.
    flipped = svm_parity(MovedVotes(session, 3, 2.0), svm, rows, Path("test.npz"))
    assert flipped["svm_crops_near_a_vote_tie"] == 1 and flipped["svm_crops_a_vote_apart"] == 1


@pytest.mark.parametrize("row, shift", [(3, 0.5), (0, 1.0)])
def test_other_differences_fail(exported, row, shift):
    """Half a vote on the crop near a tie, or a whole vote on a crop far from every tie, is an error."""
    svm, session, centres, tie = exported
    rows = np.concatenate([centres, tie[None]])
    with pytest.raises(FerpipeError, match="test.npz: "):
        svm_parity(MovedVotes(session, row, shift), svm, rows, Path("test.npz"))


def test_every_crop_near_a_tie(exported):
    """No crop left for the probability comparison (an SVM whose values are all near 0): the whole-vote
    check still runs, and the card says there was nothing to compare."""
    svm, session, _, tie = exported
    checked = svm_parity(session, svm, tie[None], Path("test.npz"))
    assert checked["max_svm_probability_difference"] is None and checked["svm_crops_near_a_vote_tie"] == 1
    with pytest.raises(FerpipeError, match="beyond whole votes"):
        svm_parity(MovedVotes(session, 0, 0.25), svm, tie[None], Path("test.npz"))
