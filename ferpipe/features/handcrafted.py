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

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field
from skimage.feature import hog, local_binary_pattern

from ferpipe.core.errors import require
from ferpipe.core.settings import Expect, Settings

LBP_METHODS = ("nri_uniform", "uniform")
HOG_BLOCK_NORM = "L2-Hys"


def _cells_of(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


CellCount = Annotated[int, Field(ge=1, le=64)]
Grid = Annotated[tuple[CellCount, CellCount], BeforeValidator(_cells_of),
                 Expect("two integers in [1, 64]: rows and columns of cells, e.g. [6, 6]")]


class LbpSettings(Settings):
    """Local binary pattern histograms on a grid of cells (`embed.features: lbp`)."""
    points: int = Field(ge=4, le=24, description="neighbours sampled on the circle (P)")
    radius: float = Field(gt=0, le=8, description="radius of the circle, px (R)")
    method: Literal[LBP_METHODS] = Field(description="nri_uniform: every uniform pattern its own code, P (P - 1) + 3 "
                                                     "codes (u2: 59 for P = 8) | uniform: rotations merged, P + 2 codes")
    grid: Grid = Field(description="cells over the crop, rows and columns; one histogram per cell, concatenated")


class HogSettings(Settings):
    """Histograms of oriented gradients (`embed.features: hog`)."""
    orientations: int = Field(ge=2, le=36, description="bins of unsigned gradient direction, 0..180 degrees")
    pixels_per_cell: int = Field(ge=2, le=64, description="side of a square cell, px")
    cells_per_block: int = Field(ge=1, le=16, description="side of a square normalisation block (L2-Hys), cells")


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


def check_fits(kind: str, settings: LbpSettings | HogSettings, size: int) -> None:
    """The settings must fit size x size crops: an error naming the parameter and the params file otherwise."""
    where = f"{settings.params_file}: embed.{kind}"
    if kind == "lbp":
        require(max(settings.grid) <= size, f"{where}.grid {list(settings.grid)} has more cells than the "
                                             f"{size}x{size} crops have pixels a side")
        require(2 * settings.radius < size, f"{where}.radius {settings.radius} does not fit {size}x{size} crops")
    else:
        block = settings.pixels_per_cell * settings.cells_per_block
        require(block <= size, f"{where}: a block of {settings.cells_per_block}x{settings.cells_per_block} cells of "
                               f"{settings.pixels_per_cell} px ({block} px) does not fit {size}x{size} crops")


def handcrafted_features(images: np.ndarray, kind: str, settings: LbpSettings | HogSettings) -> np.ndarray:
    """(N, D) float32 features of (N, S, S) uint8 crops; `kind` lbp or hog."""
    require(images.ndim == 3 and len(images) > 0, f"expected (N, S, S) crops, got {images.shape}")
    check_fits(kind, settings, min(images.shape[1:]))
    one = lbp_histograms if kind == "lbp" else hog_vector
    return np.stack([one(image, settings) for image in images]).astype(np.float32)
