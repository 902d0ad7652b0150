"""Hand-crafted features of the face crops, the traditional baselines of the paper's Table 3 claim.

- `lbp`: local binary patterns (scikit-image's `local_binary_pattern`) of `points` neighbours on a
  circle of `radius` pixels, histogrammed in each cell of a `grid` of rows x columns over the crop,
  the histograms concatenated (Shan, Gong & McOwan 2009: LBP^u2_{8,2} histograms on a grid + SVM).
  `nri_uniform` keeps each uniform pattern apart (P (P - 1) + 3 codes, 59 for 8 points: the u2
  patterns); `uniform` merges their rotations (P + 2 codes). Each cell's histogram is the fraction of
  its pixels per code, so cells of unequal size weigh alike.
- `hog`: histograms of oriented gradients (scikit-image's `hog`): `orientations` bins of unsigned
  gradient direction in cells of `pixels_per_cell` squared pixels, L2-Hys normalised over blocks of
  `cells_per_block` squared cells.

No network and no framework: the features depend on the crops and these settings only.
"""
from __future__ import annotations

import numpy as np
from skimage.feature import hog, local_binary_pattern

from ferpipe.core.errors import require
from ferpipe.features.settings import HogSettings, LbpSettings, check_fits

HOG_BLOCK_NORM = "L2-Hys"


def lbp_codes(points: int, method: str) -> int:
    """How many codes `local_binary_pattern` gives for `points` neighbours."""
    return points * (points - 1) + 3 if method == "nri_uniform" else points + 2


def cell_edges(size: int, cells: int) -> np.ndarray:
    """Pixel edges of `cells` near-equal cells over `size` pixels."""
    return np.linspace(0, size, cells + 1).round().astype(int)


def lbp_histograms(image: np.ndarray, s: LbpSettings) -> np.ndarray:
    """One crop's concatenated cell histograms: grid rows x columns x codes values, each cell summing to 1."""
    codes = local_binary_pattern(image, s.points, s.radius, method=s.method).astype(np.int64)
    n_codes = lbp_codes(s.points, s.method)
    rows, cols = cell_edges(image.shape[0], s.grid[0]), cell_edges(image.shape[1], s.grid[1])
    out = []
    for top, bottom in zip(rows[:-1], rows[1:]):
        for left, right in zip(cols[:-1], cols[1:]):
            cell = codes[top:bottom, left:right].ravel()
            out.append(np.bincount(cell, minlength=n_codes) / cell.size)
    return np.concatenate(out)


def hog_vector(image: np.ndarray, s: HogSettings) -> np.ndarray:
    return hog(image, orientations=s.orientations, pixels_per_cell=(s.pixels_per_cell, s.pixels_per_cell),
               cells_per_block=(s.cells_per_block, s.cells_per_block), block_norm=HOG_BLOCK_NORM, feature_vector=True)


def handcrafted_features(images: np.ndarray, kind: str, settings: LbpSettings | HogSettings) -> np.ndarray:
    """(N, D) float32 features of (N, S, S) uint8 crops; `kind` lbp or hog."""
    require(images.ndim == 3 and len(images) > 0, f"expected (N, S, S) crops, got {images.shape}")
    check_fits(kind, settings, min(images.shape[1:]))
    one = lbp_histograms if kind == "lbp" else hog_vector
    return np.stack([one(image, settings) for image in images]).astype(np.float32)
