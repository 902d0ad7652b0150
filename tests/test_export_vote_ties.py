"""The export's parity check leaves out the crops where ONNX's float32 SVM may cast a one-vs-one vote the
other way: those, and only those, with a one-vs-one decision value within VOTE_MARGIN of 0."""
from __future__ import annotations

import numpy as np
from svm_fixtures import SVM_PARAMS, blobs

from ferpipe.export.run import VOTE_MARGIN, near_vote_tie
from ferpipe.svm.fit import SvmSettings, fit_final
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
