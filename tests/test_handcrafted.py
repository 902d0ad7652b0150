"""Hand-crafted features (ferpipe.features.handcrafted): known LBP codes and HOG directions on
constructed crops, their sizes and determinism, bad settings and settings that do not fit the crops.
The `embed` stage with them: tests/test_embed_svm_compare_stages.py."""
from __future__ import annotations

import re

import numpy as np
import pytest
from support.stage_imports import REPO

from ferpipe.core.errors import FerpipeError
from ferpipe.core.params import load_params
from ferpipe.features.handcrafted import handcrafted_features, lbp_codes
from ferpipe.features.settings import EmbedSettings, HogSettings, LbpSettings

EMBED = load_params(REPO / "params.yaml")["embed"]


def lbp(**overrides) -> LbpSettings:
    return LbpSettings(**{**EMBED["lbp"], **overrides})


def hog(**overrides) -> HogSettings:
    return HogSettings(**{**EMBED["hog"], **overrides})


def flat(value: int = 50, size: int = 48) -> np.ndarray:
    return np.full((size, size), value, np.uint8)


@pytest.mark.parametrize("method, codes, all_ones", [("nri_uniform", 59, 57), ("uniform", 10, 8)])
def test_lbp_codes_of_a_spot_and_of_a_flat_patch(method, codes, all_ones):
    image = flat()
    image[12, 12] = 200  # brighter than its 8 neighbours: every bit 0, code 0
    cells = handcrafted_features(image[None], "lbp", lbp(points=8, radius=1, method=method, grid=[4, 4]))
    cells = cells.reshape(4, 4, codes)
    assert lbp_codes(8, method) == codes
    assert cells[1, 1, 0] == pytest.approx(1 / 144)  # the spot's cell (rows and columns 12..23)
    assert cells[:, :, 0].sum() == pytest.approx(1 / 144)  # code 0 nowhere else
    # A cell away from the crop's border sees a flat patch: every neighbour >= the centre, all bits 1.
    assert cells[2, 2, all_ones] == pytest.approx(1.0)
    assert np.allclose(cells.sum(axis=2), 1.0)  # each cell's histogram is fractions of its pixels


@pytest.mark.parametrize("axis, direction_bin", [(1, 0), (0, 4)])  # brighter to the right: 0 deg; downwards: 90 deg
def test_hog_finds_the_gradient_direction_of_a_ramp(axis, direction_bin):
    ramp = np.broadcast_to(np.expand_dims(np.arange(48) * 5, 1 - axis), (48, 48)).astype(np.uint8)
    features = handcrafted_features(ramp[None], "hog", hog(orientations=9, pixels_per_cell=8, cells_per_block=1))
    per_cell = features.reshape(36, 9)  # 6 x 6 cells of 8 px, 9 bins of 20 degrees
    assert (per_cell.argmax(axis=1) == direction_bin).all()


def test_sizes_and_determinism():
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48)).astype(np.uint8)
    lbp_features = handcrafted_features(crops, "lbp", lbp())
    assert lbp_features.shape == (5, 6 * 6 * 59) and lbp_features.dtype == np.float32
    hog_features = handcrafted_features(crops, "hog", hog())
    assert hog_features.shape == (5, 5 * 5 * 2 * 2 * 9)  # 6 x 6 cells of 8 px: 5 x 5 blocks of 2 x 2 cells
    assert np.array_equal(lbp_features, handcrafted_features(crops.copy(), "lbp", lbp()))
    assert np.array_equal(hog_features, handcrafted_features(crops.copy(), "hog", hog()))
    assert not np.array_equal(lbp_features[0], lbp_features[1])


@pytest.mark.parametrize("kind, settings, size, message", [
    ("lbp", {"grid": [60, 6]}, 48, "embed.lbp.grid [60, 6] has more cells than the 48x48 crops have pixels a side"),
    ("lbp", {"radius": 8}, 16, "embed.lbp.radius 8.0 does not fit 16x16 crops"),
    ("hog", {"pixels_per_cell": 32}, 48, "embed.hog: a block of 2x2 cells of 32 px (64 px) does not fit 48x48 crops"),
])
def test_settings_that_do_not_fit_the_crops_are_one_error(kind, settings, size, message):
    block = lbp(**settings) if kind == "lbp" else hog(**settings)
    with pytest.raises(FerpipeError, match=f"^params.yaml: {re.escape(message)}$"):
        handcrafted_features(np.zeros((1, size, size), np.uint8), kind, block)


@pytest.mark.parametrize("key, value, message", [
    ("features", "sift", "embed.features must be one of network, lbp, hog, got 'sift'"),
    ("lbp", {**EMBED["lbp"], "points": 2}, "embed.lbp.points must be an integer in [4, 24], got 2"),
    ("lbp", {**EMBED["lbp"], "grid": [0, 6]}, "embed.lbp.grid must be two integers in [1, 64]"),
    ("lbp", {**EMBED["lbp"], "method": "ror"}, "embed.lbp.method must be one of nri_uniform, uniform, got 'ror'"),
    ("hog", {**EMBED["hog"], "orientations": 1}, "embed.hog.orientations must be an integer in [2, 36], got 1"),
    ("hog", {k: v for k, v in EMBED["hog"].items() if k != "cells_per_block"}, "missing parameter embed.hog.cells_per_block"),
])
def test_bad_values_are_one_line_naming_the_key(key, value, message):
    with pytest.raises(FerpipeError) as err:
        EmbedSettings.from_params({"embed": {**EMBED, key: value}}, "my.yaml")
    assert str(err.value).startswith(f"my.yaml: {message}")
